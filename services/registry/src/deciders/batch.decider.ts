import {
  BatchCreated,
  EnrolmentKeysRequested,
  IdentitiesImported,
  type DataOf,
  type EventOf,
} from '@tunnelkey/contracts';
import type { Command, Decider } from '@tunnelkey/eventstore';
import { conflict, notFound, refused } from '../shared/registry-errors.js';
import { decided, sameContent } from './decided.js';
import type { PolicyState } from './policy.decider.js';

export type BatchDefinition = DataOf<typeof BatchCreated>;

export interface EnrolmentKeyRequest {
  requestId: string;
  deviceIds?: string[];
  expiresAt: string;
}

export type BatchState =
  | { status: 'None' }
  | {
      status: 'Created';
      batch: BatchDefinition;
      /** Import calls already recorded: the same importId is recorded once. */
      importIds: string[];
      enrolmentKeyRequests: Record<string, EnrolmentKeyRequest>;
    };

export type CreateBatchCommand = Command<'CreateBatch', BatchDefinition & { policyStatus: PolicyState['status'] }>;
export type RecordImportCommand = Command<'RecordImport', DataOf<typeof IdentitiesImported>>;
export type RequestEnrolmentKeysCommand = Command<'RequestEnrolmentKeys', DataOf<typeof EnrolmentKeysRequested>>;
export type BatchCommand = CreateBatchCommand | RecordImportCommand | RequestEnrolmentKeysCommand;
export type BatchEvent =
  | EventOf<typeof BatchCreated>
  | EventOf<typeof IdentitiesImported>
  | EventOf<typeof EnrolmentKeysRequested>;

/** A batch: bound to a server policy and an owner, with an expected size it may not exceed. */
export const batchDecider: Decider<BatchCommand, BatchEvent, BatchState> = {
  initialState: () => ({ status: 'None' }),

  decide(command, state) {
    switch (command.type) {
      case 'CreateBatch': {
        const { policyStatus, ...batch } = command.data;
        if (state.status === 'Created') {
          if (sameContent(state.batch, batch)) return [];
          throw conflict(`batch ${batch.batchId} already exists with another definition`, { batchId: batch.batchId });
        }
        if (policyStatus !== 'Defined')
          throw refused('unknown-policy', `server policy ${batch.policyId} is not defined`, {
            policyId: batch.policyId,
          });
        return [decided(BatchCreated, batch)];
      }
      case 'RecordImport': {
        const created = requireCreated(state, command.data.batchId);
        if (created.importIds.includes(command.data.importId)) return [];
        return [decided(IdentitiesImported, command.data)];
      }
      case 'RequestEnrolmentKeys': {
        const created = requireCreated(state, command.data.batchId);
        if (created.enrolmentKeyRequests[command.data.requestId]) return [];
        return [decided(EnrolmentKeysRequested, command.data)];
      }
      default: {
        const unknown: never = command;
        throw new TypeError(`unknown batch command ${String((unknown as { type?: unknown }).type)}`);
      }
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'BatchCreated':
        return { status: 'Created', batch: event.data, importIds: [], enrolmentKeyRequests: {} };
      case 'IdentitiesImported':
        if (state.status !== 'Created') return state;
        return { ...state, importIds: [...state.importIds, event.data.importId] };
      case 'EnrolmentKeysRequested': {
        if (state.status !== 'Created') return state;
        const { requestId, deviceIds, expiresAt } = event.data;
        return {
          ...state,
          enrolmentKeyRequests: {
            ...state.enrolmentKeyRequests,
            [requestId]: { requestId, expiresAt, ...(deviceIds ? { deviceIds } : {}) },
          },
        };
      }
      default: {
        const unknown: never = event;
        return unknown;
      }
    }
  },
};

function requireCreated(state: BatchState, batchId: string): Extract<BatchState, { status: 'Created' }> {
  if (state.status !== 'Created') throw notFound(`batch ${batchId}`, { batchId });
  return state;
}

/**
 * Which new members a batch can still take, in order. `members` counts the devices already in the
 * batch; candidates already in it take no place (re-importing them is idempotent).
 */
export function admitToBatch(
  expectedSize: number,
  members: number,
  candidates: readonly { alreadyMember: boolean }[],
): boolean[] {
  let placesLeft = Math.max(0, expectedSize - members);
  return candidates.map((candidate) => {
    if (candidate.alreadyMember) return true;
    if (placesLeft === 0) return false;
    placesLeft--;
    return true;
  });
}
