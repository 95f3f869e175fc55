import {
  BatchCreated,
  EnrolmentApprovalRequested,
  EnrolmentKeysRequested,
  HeldEnrolmentDecided,
  IdentitiesImported,
  ManufacturerKeyRegistered,
  maxHeldPerRequest,
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

export type HeldEnrolment = Omit<DataOf<typeof EnrolmentApprovalRequested>, 'batchId' | 'requestId'> & {
  decision?: 'approved' | 'rejected';
};

export type ManufacturerKey = Omit<DataOf<typeof ManufacturerKeyRegistered>, 'batchId'>;

export type BatchState =
  | { status: 'None' }
  | {
      status: 'Created';
      batch: BatchDefinition;
      /** Import calls already recorded: the same importId is recorded once. */
      importIds: string[];
      enrolmentKeyRequests: Record<string, EnrolmentKeyRequest>;
      /** Manufacturer keys whose attestation lets a device join on an open request. */
      manufacturerKeys?: Record<string, ManufacturerKey>;
      /** Devices that answered an open request unattested, per request id (at most maxHeldPerRequest each). */
      held?: Record<string, Record<string, HeldEnrolment>>;
    };

export type CreateBatchCommand = Command<'CreateBatch', BatchDefinition & { policyStatus: PolicyState['status'] }>;
export type RecordImportCommand = Command<'RecordImport', DataOf<typeof IdentitiesImported>>;
export type RequestEnrolmentKeysCommand = Command<'RequestEnrolmentKeys', DataOf<typeof EnrolmentKeysRequested>>;
export type RegisterManufacturerKeyCommand = Command<
  'RegisterManufacturerKey',
  DataOf<typeof ManufacturerKeyRegistered>
>;
export type HoldEnrolmentCommand = Command<'HoldEnrolment', DataOf<typeof EnrolmentApprovalRequested>>;
export type DecideHeldEnrolmentCommand = Command<'DecideHeldEnrolment', DataOf<typeof HeldEnrolmentDecided>>;
export type BatchCommand =
  | CreateBatchCommand
  | RecordImportCommand
  | RequestEnrolmentKeysCommand
  | RegisterManufacturerKeyCommand
  | HoldEnrolmentCommand
  | DecideHeldEnrolmentCommand;
export type BatchEvent =
  | EventOf<typeof BatchCreated>
  | EventOf<typeof IdentitiesImported>
  | EventOf<typeof EnrolmentKeysRequested>
  | EventOf<typeof ManufacturerKeyRegistered>
  | EventOf<typeof EnrolmentApprovalRequested>
  | EventOf<typeof HeldEnrolmentDecided>;

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
      case 'RegisterManufacturerKey': {
        const created = requireCreated(state, command.data.batchId);
        const { keyId, keyDigest } = command.data;
        const known = created.manufacturerKeys?.[keyId];
        if (known?.keyDigest === keyDigest) return [];
        if (known)
          throw conflict(`manufacturer key ${keyId} is registered with another key`, {
            batchId: command.data.batchId,
            keyId,
          });
        return [decided(ManufacturerKeyRegistered, command.data)];
      }
      case 'HoldEnrolment': {
        const created = requireCreated(state, command.data.batchId);
        const { requestId, deviceId } = command.data;
        const request = created.enrolmentKeyRequests[requestId];
        if (!request || request.deviceIds)
          throw refused('not-open-request', `enrolment-key request ${requestId} is not an open request of this batch`, {
            requestId,
          });
        const held = created.held?.[requestId] ?? {};
        if (held[deviceId]) return []; // held once: a second answer changes nothing
        if (Object.keys(held).length >= maxHeldPerRequest)
          throw refused('hold-full', `enrolment-key request ${requestId} holds ${maxHeldPerRequest} devices already`, {
            requestId,
          });
        return [decided(EnrolmentApprovalRequested, command.data)];
      }
      case 'DecideHeldEnrolment': {
        const created = requireCreated(state, command.data.batchId);
        const { requestId, deviceId, decision } = command.data;
        const held = created.held?.[requestId]?.[deviceId];
        if (!held) throw refused('not-held', `device ${deviceId} is not held by request ${requestId}`, { deviceId });
        if (held.decision === decision) return [];
        if (held.decision) throw conflict(`device ${deviceId} was already ${held.decision}`, { deviceId, requestId });
        return [decided(HeldEnrolmentDecided, command.data)];
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
      case 'ManufacturerKeyRegistered': {
        if (state.status !== 'Created') return state;
        const { batchId: _batchId, ...key } = event.data;
        return { ...state, manufacturerKeys: { ...state.manufacturerKeys, [key.keyId]: key } };
      }
      case 'EnrolmentApprovalRequested': {
        if (state.status !== 'Created') return state;
        const { batchId: _batchId, requestId, ...held } = event.data;
        const heldByRequest = state.held?.[requestId] ?? {};
        return { ...state, held: { ...state.held, [requestId]: { ...heldByRequest, [held.deviceId]: held } } };
      }
      case 'HeldEnrolmentDecided': {
        if (state.status !== 'Created') return state;
        const { requestId, deviceId, decision } = event.data;
        const held = state.held?.[requestId]?.[deviceId];
        if (!held) return state;
        return {
          ...state,
          held: { ...state.held, [requestId]: { ...state.held![requestId], [deviceId]: { ...held, decision } } },
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
