import {
  IntegrityPolicyDefined,
  RenewalPolicyDefined,
  defaultHeartbeatPeriodSeconds,
  defaultIntegrityAction,
  defaultMissedPeriods,
  ServerPolicyDefined,
  ownerIdOf,
  defaultRenewAtShare,
  defaultRenewalJitterShare,
  type CommandOf,
  type DataOf,
  type EventOf,
  type SetIntegrityPolicy,
  type SetRenewalPolicy,
} from '@tunnelkey/contracts';
import type { Command, Decider } from '@tunnelkey/eventstore';
import { conflict, notFound } from '../shared/registry-errors.js';
import { decided, sameContent } from './decided.js';

export type ServerPolicy = DataOf<typeof ServerPolicyDefined>;
export type RenewalPolicy = DataOf<typeof RenewalPolicyDefined>;
export type IntegrityPolicy = DataOf<typeof IntegrityPolicyDefined>;

export type PolicyState =
  | { status: 'Undefined' }
  | { status: 'Defined'; policy: ServerPolicy; renewal?: RenewalPolicy; integrity?: IntegrityPolicy };

export type DefineServerPolicyCommand = Command<'DefineServerPolicy', ServerPolicy>;
/** The renewal settings asked for; absent shares take the defaults (2/3, 0.1), an absent lifetime the policy's days. */
export type SetRenewalPolicyCommand = Command<
  'SetRenewalPolicy',
  Omit<CommandOf<typeof SetRenewalPolicy>, 'commandId' | 'correlationId' | 'actor'>
>;
/** Integrity monitoring asked for; absent fields take the defaults (60 s, 1.5 periods, alert). */
export type SetIntegrityPolicyCommand = Command<
  'SetIntegrityPolicy',
  Omit<CommandOf<typeof SetIntegrityPolicy>, 'commandId' | 'correlationId' | 'actor'>
>;
export type PolicyCommand = DefineServerPolicyCommand | SetRenewalPolicyCommand | SetIntegrityPolicyCommand;
export type PolicyEvent =
  | EventOf<typeof ServerPolicyDefined>
  | EventOf<typeof RenewalPolicyDefined>
  | EventOf<typeof IntegrityPolicyDefined>;

/** A server policy: the targets, topic rights and certificate lifetime a batch is bound to. */
export const policyDecider: Decider<PolicyCommand, PolicyEvent, PolicyState> = {
  initialState: () => ({ status: 'Undefined' }),

  decide(command, state) {
    switch (command.type) {
      case 'DefineServerPolicy': {
        if (state.status === 'Undefined') return [decided(ServerPolicyDefined, command.data)];
        // The same definition again is a retry (perhaps with a new command id): nothing to do.
        if (sameContent(state.policy, command.data)) return [];
        throw conflict(`server policy ${command.data.policyId} is already defined differently`, {
          policyId: command.data.policyId,
        });
      }
      case 'SetRenewalPolicy': {
        const { policyId } = command.data;
        if (state.status === 'Undefined') throw notFound(`server policy ${policyId}`, { policyId });
        const renewal: RenewalPolicy = {
          policyId,
          renewAtShare: command.data.renewAtShare ?? defaultRenewAtShare,
          jitterShare: command.data.jitterShare ?? defaultRenewalJitterShare,
          ...(command.data.certificateLifetimeSeconds
            ? { certificateLifetimeSeconds: command.data.certificateLifetimeSeconds }
            : {}),
        };
        // The settings in force already: a retry, nothing to record.
        if (state.renewal && sameContent(state.renewal, renewal)) return [];
        return [decided(RenewalPolicyDefined, renewal)];
      }
      case 'SetIntegrityPolicy': {
        const { policyId } = command.data;
        if (state.status === 'Undefined') throw notFound(`server policy ${policyId}`, { policyId });
        const integrity: IntegrityPolicy = {
          policyId,
          heartbeatPeriodSeconds: command.data.heartbeatPeriodSeconds ?? defaultHeartbeatPeriodSeconds,
          missedPeriods: command.data.missedPeriods ?? defaultMissedPeriods,
          action: command.data.action ?? defaultIntegrityAction,
        };
        if (state.integrity && sameContent(state.integrity, integrity)) return [];
        return [decided(IntegrityPolicyDefined, integrity)];
      }
      default: {
        const unknown: never = command;
        throw new TypeError(`unknown policy command ${String((unknown as Command).type)}`);
      }
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'ServerPolicyDefined':
        // A v1 (before owners) belongs to the default owner: a retry of it must compare equal.
        return { status: 'Defined', policy: { ...event.data, ownerId: ownerIdOf(event.data) } };
      case 'RenewalPolicyDefined':
        return state.status === 'Defined' ? { ...state, renewal: event.data } : state;
      case 'IntegrityPolicyDefined':
        return state.status === 'Defined' ? { ...state, integrity: event.data } : state;
      default: {
        const unknown: never = event;
        return unknown;
      }
    }
  },
};
