import { OwnerCustodyKeyRegistered, type DataOf, type EventOf } from '@tunnelkey/contracts';
import type { Command, Decider } from '@tunnelkey/eventstore';
import { conflict } from '../shared/registry-errors.js';
import { decided } from './decided.js';

export type OwnerCustodyKey = DataOf<typeof OwnerCustodyKeyRegistered>;

/** An owner's custody keys (what signs the transfers it authorises or accepts), by key digest. */
export interface OwnerState {
  custodyKeys: Record<string, OwnerCustodyKey>;
}

export type RegisterOwnerKeyCommand = Command<'RegisterOwnerKey', OwnerCustodyKey>;
export type OwnerEvent = EventOf<typeof OwnerCustodyKeyRegistered>;

export const ownerDecider: Decider<RegisterOwnerKeyCommand, OwnerEvent, OwnerState> = {
  initialState: () => ({ custodyKeys: {} }),

  decide(command, state) {
    const { ownerId, keyId, keyDigest } = command.data;
    const byId = Object.values(state.custodyKeys).find((key) => key.keyId === keyId);
    if (byId?.keyDigest === keyDigest) return []; // the same key again: a retry
    if (byId) throw conflict(`owner ${ownerId} has another key named ${keyId}`, { ownerId, keyId });
    if (state.custodyKeys[keyDigest])
      throw conflict(`owner ${ownerId} registered this key already, as ${state.custodyKeys[keyDigest].keyId}`, {
        ownerId,
        keyId,
      });
    return [decided(OwnerCustodyKeyRegistered, command.data)];
  },

  evolve(state, event) {
    return { custodyKeys: { ...state.custodyKeys, [event.data.keyDigest]: event.data } };
  },
};
