import { ServerPolicyDefined, type DataOf, type EventOf } from '@tunnelkey/contracts';
import type { Command, Decider } from '@tunnelkey/eventstore';
import { conflict } from '../shared/registry-errors.js';
import { decided, sameContent } from './decided.js';

export type ServerPolicy = DataOf<typeof ServerPolicyDefined>;

export type PolicyState = { status: 'Undefined' } | { status: 'Defined'; policy: ServerPolicy };

export type DefineServerPolicyCommand = Command<'DefineServerPolicy', ServerPolicy>;
export type PolicyCommand = DefineServerPolicyCommand;
export type PolicyEvent = EventOf<typeof ServerPolicyDefined>;

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
      default: {
        const unknown: never = command.type;
        throw new TypeError(`unknown policy command ${String(unknown)}`);
      }
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'ServerPolicyDefined':
        return { status: 'Defined', policy: event.data };
      default: {
        const unknown: never = event.type;
        return unknown;
      }
    }
  },
};
