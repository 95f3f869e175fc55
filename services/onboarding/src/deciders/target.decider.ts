/**
 * The target aggregate (`onboarding.target.<id>`): registered once, then the trust it enforces.
 * Pure: ids and time come with the command. Admin credentials never reach it, only their reference.
 */
import {
  OnboardingRunFinished,
  OnboardingRunStarted,
  TargetCrlUpdated,
  TargetRegistered,
  TargetTrustAnchorInstalled,
  ownerIdOf,
  type DataOf,
  type EventOf,
} from '@tunnelkey/contracts';
import { CommandRejected, type Command, type Decider, type NewEvent } from '@tunnelkey/eventstore';

export type TargetEvent =
  | EventOf<typeof TargetRegistered>
  | EventOf<typeof TargetTrustAnchorInstalled>
  | EventOf<typeof TargetCrlUpdated>
  | EventOf<typeof OnboardingRunStarted>
  | EventOf<typeof OnboardingRunFinished>;

export type OnboardingRun = Omit<DataOf<typeof OnboardingRunStarted>, 'targetId'>;

export type TargetCommand =
  | Command<'RegisterTarget', DataOf<typeof TargetRegistered>>
  | Command<'RecordTrustAnchorInstalled', DataOf<typeof TargetTrustAnchorInstalled>>
  | Command<'RecordCrlUpdated', DataOf<typeof TargetCrlUpdated>>
  | Command<'StartRun', DataOf<typeof OnboardingRunStarted>>
  | Command<'FinishRun', DataOf<typeof OnboardingRunFinished>>;

export type TargetState =
  | { status: 'Unregistered' }
  | {
      status: 'Registered';
      target: DataOf<typeof TargetRegistered>;
      /** authorityId -> fingerprint of the installed issuing CA. */
      anchors: Readonly<Record<string, string>>;
      /** authorityId -> the CRL the target enforces. */
      crls: Readonly<Record<string, { crlNumber: number; crlDigest: string }>>;
      /** Onboarding runs started and not finished, by run id. */
      runs?: Readonly<Record<string, OnboardingRun>>;
    };

const sameRegistration = (a: DataOf<typeof TargetRegistered>, b: DataOf<typeof TargetRegistered>) =>
  a.kind === b.kind &&
  a.name === b.name &&
  a.host === b.host &&
  a.tlsPort === b.tlsPort &&
  a.credentialsRef === b.credentialsRef &&
  a.ownerId === b.ownerId;

export const targetDecider: Decider<TargetCommand, TargetEvent, TargetState> = {
  initialState: () => ({ status: 'Unregistered' }),

  decide(command, state): NewEvent<TargetEvent>[] {
    switch (command.type) {
      case 'RegisterTarget': {
        if (state.status === 'Registered') {
          if (sameRegistration(state.target, command.data)) return [];
          throw new CommandRejected(
            'target-exists',
            `target ${command.data.targetId} is registered with other settings`,
            { targetId: command.data.targetId },
          );
        }
        return [{ type: TargetRegistered.type, version: TargetRegistered.version, data: command.data }];
      }
      case 'RecordTrustAnchorInstalled': {
        if (state.status !== 'Registered')
          throw new CommandRejected('unknown-target', 'target is not registered', { targetId: command.data.targetId });
        if (state.anchors[command.data.authorityId] === command.data.fingerprintSha256) return [];
        return [
          { type: TargetTrustAnchorInstalled.type, version: TargetTrustAnchorInstalled.version, data: command.data },
        ];
      }
      case 'RecordCrlUpdated': {
        if (state.status !== 'Registered')
          throw new CommandRejected('unknown-target', 'target is not registered', { targetId: command.data.targetId });
        const current = state.crls[command.data.authorityId];
        // An older or the same CRL changes nothing: CRL numbers only grow (RFC 5280 5.2.3).
        if (current && current.crlNumber >= command.data.crlNumber) return [];
        return [{ type: TargetCrlUpdated.type, version: TargetCrlUpdated.version, data: command.data }];
      }
      case 'StartRun': {
        if (state.status !== 'Registered')
          throw new CommandRejected('unknown-target', 'target is not registered', { targetId: command.data.targetId });
        if (state.runs?.[command.data.runId]) return [];
        return [{ type: OnboardingRunStarted.type, version: OnboardingRunStarted.version, data: command.data }];
      }
      case 'FinishRun': {
        if (state.status !== 'Registered' || !state.runs?.[command.data.runId]) return [];
        return [{ type: OnboardingRunFinished.type, version: OnboardingRunFinished.version, data: command.data }];
      }
      default: {
        const unknown: never = command;
        return unknown;
      }
    }
  },

  evolve(state, event): TargetState {
    switch (event.type) {
      case 'TargetRegistered':
        // A v1 (before owners) belongs to the default owner.
        return {
          status: 'Registered',
          target: { ...event.data, ownerId: ownerIdOf(event.data) },
          anchors: {},
          crls: {},
        };
      case 'TargetTrustAnchorInstalled':
        if (state.status !== 'Registered') return state;
        return { ...state, anchors: { ...state.anchors, [event.data.authorityId]: event.data.fingerprintSha256 } };
      case 'TargetCrlUpdated':
        if (state.status !== 'Registered') return state;
        return {
          ...state,
          crls: {
            ...state.crls,
            [event.data.authorityId]: { crlNumber: event.data.crlNumber, crlDigest: event.data.crlDigest },
          },
        };
      case 'OnboardingRunStarted': {
        if (state.status !== 'Registered') return state;
        const { targetId: _targetId, ...run } = event.data;
        return { ...state, runs: { ...state.runs, [run.runId]: run } };
      }
      case 'OnboardingRunFinished': {
        if (state.status !== 'Registered') return state;
        const { [event.data.runId]: _finished, ...runs } = state.runs ?? {};
        return { ...state, runs };
      }
      default:
        return state;
    }
  },
};
