import {
  BatchCreated,
  BatchPlacesReleased,
  BatchPlacesReserved,
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
      /** Devices holding a place (BatchPlacesReserved, less BatchPlacesReleased): what the expected size is checked against. */
      places?: string[];
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
/**
 * Places for `candidates` (in order). `knownMembers`: the batch's members as this process's device
 * view counts them, a floor under the places the log holds (devices that joined before places were
 * reserved); `alreadyMember`: the view has the candidate in the batch (it takes no new place).
 */
export type ReservePlacesCommand = Command<
  'ReservePlaces',
  { batchId: string; knownMembers: number; candidates: readonly { deviceId: string; alreadyMember: boolean }[] }
>;
export type ReleasePlacesCommand = Command<'ReleasePlaces', DataOf<typeof BatchPlacesReleased>>;
export type BatchCommand =
  | CreateBatchCommand
  | ReservePlacesCommand
  | ReleasePlacesCommand
  | RecordImportCommand
  | RequestEnrolmentKeysCommand
  | RegisterManufacturerKeyCommand
  | HoldEnrolmentCommand
  | DecideHeldEnrolmentCommand;
export type BatchEvent =
  | EventOf<typeof BatchCreated>
  | EventOf<typeof BatchPlacesReserved>
  | EventOf<typeof BatchPlacesReleased>
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
      case 'ReservePlaces': {
        const created = requireCreated(state, command.data.batchId);
        const held = new Set(created.places);
        const members = Math.max(held.size, command.data.knownMembers);
        const taking = placesTaken(
          created.batch.expectedSize,
          members,
          command.data.candidates.map((c) => ({ alreadyMember: c.alreadyMember || held.has(c.deviceId) })),
        );
        const deviceIds = [
          ...new Set(command.data.candidates.filter((c, i) => taking[i] === 'new').map((c) => c.deviceId)),
        ];
        return deviceIds.length ? [decided(BatchPlacesReserved, { batchId: command.data.batchId, deviceIds })] : [];
      }
      case 'ReleasePlaces': {
        const created = requireCreated(state, command.data.batchId);
        const held = new Set(created.places);
        const deviceIds = [...new Set(command.data.deviceIds.filter((id) => held.has(id)))];
        return deviceIds.length ? [decided(BatchPlacesReleased, { batchId: command.data.batchId, deviceIds })] : [];
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
      case 'BatchPlacesReserved':
        if (state.status !== 'Created') return state;
        return { ...state, places: [...(state.places ?? []), ...event.data.deviceIds] };
      case 'BatchPlacesReleased': {
        if (state.status !== 'Created') return state;
        const released = new Set(event.data.deviceIds);
        return { ...state, places: (state.places ?? []).filter((id) => !released.has(id)) };
      }
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

/** Whether each candidate holds a place already, takes a new one, or finds the batch full. */
export type Place = 'held' | 'new' | 'full';

/**
 * Which candidates a batch can still take, in order. `members` counts the places already taken;
 * candidates already in the batch take no new place (re-importing them is idempotent).
 */
export function placesTaken(
  expectedSize: number,
  members: number,
  candidates: readonly { alreadyMember: boolean }[],
): Place[] {
  let placesLeft = Math.max(0, expectedSize - members);
  return candidates.map((candidate) => {
    if (candidate.alreadyMember) return 'held';
    if (placesLeft === 0) return 'full';
    placesLeft--;
    return 'new';
  });
}
