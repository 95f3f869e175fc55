/**
 * The revocation saga's state per revocation (`revocation.revocation.<revocationId>`), pure:
 * Requested -> CertificatesRevoked -> CrlPublished -> (per target: deprovisioned, CRL enforced)
 * -> TargetsDeprovisioned -> RegistryMarked -> Completed. Each step is one event, decided once:
 * a step already recorded decides nothing, so a resumed saga never repeats one. `evolve` is
 * idempotent too (a step folded twice changes nothing). Shared by RevokeDevice/RevokeBatch (the
 * request) and the saga (the steps).
 */
import type {
  Actor,
  DataOf,
  EventOf,
  RevocationCompleted,
  RevocationEscalated,
  RevocationReason,
  RevocationRequested,
  RevocationStalled,
  RevocationStepCompleted,
} from '@tunnelkey/contracts';
import { CommandRejected, type Command, type Decider, type NewEvent } from '@tunnelkey/eventstore';

export type RevocationEvent =
  | EventOf<typeof RevocationRequested>
  | EventOf<typeof RevocationStepCompleted>
  | EventOf<typeof RevocationCompleted>
  | EventOf<typeof RevocationStalled>
  | EventOf<typeof RevocationEscalated>;
export type RevocationStep = DataOf<typeof RevocationStepCompleted>['step'];

export type RequestRevocationCommand = Command<'RequestRevocation', DataOf<typeof RevocationRequested>>;
export type CompleteStepCommand = Command<'CompleteStep', DataOf<typeof RevocationStepCompleted>>;
export type CompleteRevocationCommand = Command<
  'CompleteRevocation',
  { revocationId: string; devicesRevoked: number; alreadyRevoked: number }
>;
export type RecordStallCommand = Command<'RecordStall', DataOf<typeof RevocationStalled>>;
export type EscalateCommand = Command<'Escalate', DataOf<typeof RevocationEscalated>>;
export type RevocationCommand =
  | RequestRevocationCommand
  | CompleteStepCommand
  | CompleteRevocationCommand
  | RecordStallCommand
  | EscalateCommand;

export type RevocationStatus =
  | 'None'
  | 'Requested'
  | 'CertificatesRevoked'
  | 'CrlPublished'
  | 'TargetsDeprovisioned'
  | 'RegistryMarked'
  | 'Completed';

export interface TargetProgress {
  deprovisioned: boolean;
  crlUpdated: boolean;
}

export interface RevocationState {
  status: RevocationStatus;
  revocationId?: string;
  scope?: 'device' | 'batch';
  batchId?: string;
  deviceIds: string[];
  reason?: RevocationReason;
  requestedAt?: string;
  requestedBy?: Actor;
  correlationId?: string;
  certificatesRevoked?: number;
  crlNumber?: number;
  targets: Record<string, TargetProgress>;
  /** Every step with the time it was recorded: why and when, for the query. */
  history: { step: RevocationStep | 'requested' | 'completed'; targetId?: string; at: string }[];
  completedAt?: string;
  durationMs?: number;
  /** Set while the revocation has not moved for longer than its stall threshold; cleared by its next step. */
  stalled?: DataOf<typeof RevocationStalled> & { at: string };
  /** Set once it missed its deadline; stays (the saga keeps retrying after it). */
  escalated?: DataOf<typeof RevocationEscalated> & { at: string };
}

/** When the revocation last moved forward: its request, or its last step. */
export const lastProgressAt = (state: RevocationState): string | undefined => state.history.at(-1)?.at;

export const revocationStream = (revocationId: string) => ({
  context: 'revocation' as const,
  aggregate: 'revocation',
  id: revocationId,
});

const order: Record<RevocationStatus, number> = {
  None: 0,
  Requested: 1,
  CertificatesRevoked: 2,
  CrlPublished: 3,
  TargetsDeprovisioned: 4,
  RegistryMarked: 5,
  Completed: 6,
};
const statusAfter: Partial<Record<RevocationStep, RevocationStatus>> = {
  'certificates-revoked': 'CertificatesRevoked',
  'crl-published': 'CrlPublished',
  'targets-deprovisioned': 'TargetsDeprovisioned',
  'registry-updated': 'RegistryMarked',
};
/** The status a step needs before it: steps happen in this order and no other. */
const statusBefore: Record<RevocationStep, RevocationStatus> = {
  'certificates-revoked': 'Requested',
  'crl-published': 'CertificatesRevoked',
  'targets-deprovisioned': 'CrlPublished',
  'targets-crl-updated': 'CrlPublished',
  'registry-updated': 'TargetsDeprovisioned',
};

const advance = (status: RevocationStatus, to: RevocationStatus): RevocationStatus =>
  order[to] > order[status] ? to : status;

function stepDone(state: RevocationState, step: RevocationStep, targetId?: string): boolean {
  if (targetId !== undefined) {
    const target = state.targets[targetId];
    return step === 'targets-deprovisioned' ? target?.deprovisioned === true : target?.crlUpdated === true;
  }
  const after = statusAfter[step];
  return after !== undefined && order[state.status] >= order[after];
}

export const initialRevocationState = (): RevocationState => ({
  status: 'None',
  deviceIds: [],
  targets: {},
  history: [],
});

export const revocationDecider: Decider<RevocationCommand, RevocationEvent, RevocationState> = {
  initialState: initialRevocationState,

  decide(command, state): NewEvent<RevocationEvent>[] {
    switch (command.type) {
      case 'RequestRevocation':
        if (state.status !== 'None') {
          if (state.revocationId === command.data.revocationId) return []; // a retried request
          throw new CommandRejected('CONFLICT', 'this revocation id is taken', {
            revocationId: command.data.revocationId,
          });
        }
        return [{ type: 'RevocationRequested', version: 1, data: command.data }];
      case 'CompleteStep': {
        const { step, targetId } = command.data;
        if (state.status === 'None')
          throw new CommandRejected('NOT_FOUND', 'no such revocation', { revocationId: command.data.revocationId });
        if (stepDone(state, step, targetId)) return [];
        if (step === 'targets-crl-updated' && targetId === undefined)
          throw new CommandRejected('target-required', 'targets-crl-updated is recorded per target', { step });
        if (step !== 'targets-deprovisioned' && step !== 'targets-crl-updated' && targetId !== undefined)
          throw new CommandRejected('no-target-step', `${step} is not a per-target step`, { step });
        // Per-target steps may come in any order among themselves, but never before the CRL exists or after the registry step.
        const ready = targetId !== undefined ? state.status === 'CrlPublished' : state.status === statusBefore[step];
        if (!ready)
          throw new CommandRejected('step-out-of-order', `${step} cannot follow ${state.status}`, {
            step,
            status: state.status,
          });
        if (step === 'targets-deprovisioned' && targetId === undefined) {
          const open = Object.entries(state.targets).filter(([, t]) => !t.deprovisioned || !t.crlUpdated);
          if (open.length)
            throw new CommandRejected('targets-pending', `${open.length} target(s) still pending`, { step });
        }
        return [{ type: 'RevocationStepCompleted', version: 1, data: command.data }];
      }
      case 'CompleteRevocation': {
        if (state.status === 'Completed') return [];
        if (state.status !== 'RegistryMarked')
          throw new CommandRejected('step-out-of-order', `cannot complete from ${state.status}`, {
            status: state.status,
          });
        const durationMs = Math.max(
          0,
          Date.parse(command.metadata.now) - Date.parse(state.requestedAt ?? command.metadata.now),
        );
        const { revocationId, devicesRevoked, alreadyRevoked } = command.data;
        return [
          {
            type: 'RevocationCompleted',
            version: 1,
            data: { revocationId, devicesRevoked, alreadyRevoked, durationMs },
          },
        ];
      }
      case 'RecordStall': {
        if (state.status === 'None')
          throw new CommandRejected('NOT_FOUND', 'no such revocation', { revocationId: command.data.revocationId });
        if (state.status === 'Completed') return [];
        // Once per wait: a revocation stalled since the same moment is already recorded.
        if (state.stalled?.since === command.data.since) return [];
        return [{ type: 'RevocationStalled', version: 1, data: command.data }];
      }
      case 'Escalate': {
        if (state.status === 'None')
          throw new CommandRejected('NOT_FOUND', 'no such revocation', { revocationId: command.data.revocationId });
        if (state.status === 'Completed' || state.escalated) return [];
        return [{ type: 'RevocationEscalated', version: 1, data: command.data }];
      }
      default: {
        const unknown: never = command;
        throw new CommandRejected('unknown-command', `unknown command ${String((unknown as Command).type)}`);
      }
    }
  },

  evolve(state, event): RevocationState {
    switch (event.type) {
      case 'RevocationRequested': {
        if (state.status !== 'None') return state;
        const { revocationId, scope, batchId, deviceIds, reason } = event.data;
        return {
          ...state,
          status: 'Requested',
          revocationId,
          scope,
          ...(batchId ? { batchId } : {}),
          deviceIds,
          reason,
          requestedAt: event.occurredAt,
          ...(event.actor ? { requestedBy: event.actor } : {}),
          correlationId: event.correlationId,
          history: [{ step: 'requested', at: event.occurredAt }],
        };
      }
      case 'RevocationStepCompleted': {
        const { step, targetId, crlNumber, devices } = event.data;
        if (stepDone(state, step, targetId)) return state;
        const history = [
          ...state.history,
          { step, ...(targetId !== undefined ? { targetId } : {}), at: event.occurredAt },
        ];
        const { stalled: _moved, ...moving } = state;
        if (targetId !== undefined) {
          const previous = state.targets[targetId] ?? { deprovisioned: false, crlUpdated: false };
          const target =
            step === 'targets-deprovisioned' ? { ...previous, deprovisioned: true } : { ...previous, crlUpdated: true };
          return { ...moving, targets: { ...state.targets, [targetId]: target }, history };
        }
        return {
          ...moving,
          status: advance(state.status, statusAfter[step] ?? state.status),
          ...(step === 'certificates-revoked' ? { certificatesRevoked: devices } : {}),
          ...(crlNumber !== undefined ? { crlNumber } : {}),
          history,
        };
      }
      case 'RevocationCompleted': {
        if (state.status === 'Completed') return state;
        const { stalled: _done, ...rest } = state;
        return {
          ...rest,
          status: 'Completed',
          completedAt: event.occurredAt,
          durationMs: event.data.durationMs,
          history: [...state.history, { step: 'completed', at: event.occurredAt }],
        };
      }
      case 'RevocationStalled':
        if (state.status === 'Completed' || state.stalled?.since === event.data.since) return state;
        return { ...state, stalled: { ...event.data, at: event.occurredAt } };
      case 'RevocationEscalated':
        if (state.escalated) return state;
        return { ...state, escalated: { ...event.data, at: event.occurredAt } };
      default:
        return state;
    }
  },
};
