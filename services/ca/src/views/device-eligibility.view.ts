/**
 * Answers "may this device be certified, and with which key, lifetime and owner?" from the
 * registry's events. In-process and mutable for speed (one Map lookup per CSR); rebuilt from
 * the log at start. Revocation is sticky: no later event makes a revoked device eligible again.
 */
import {
  BatchCreated,
  DeviceAnnounced,
  DeviceIdentityImported,
  DeviceRevoked,
  IdentityVerificationFailed,
  IdentityVerified,
  OwnershipTransferCompleted,
  ServerPolicyDefined,
  type DataOf,
  type EventEnvelope,
} from '@tunnelkey/contracts';
import type { ProjectionDefinition, RecordedEvent } from '@tunnelkey/eventstore';

export interface PolicyRecord {
  policyId: string;
  certificateLifetimeDays: number;
  /** No registry event suspends issuance yet; kept so one can without touching the validators. */
  issuanceAllowed: boolean;
}

export interface BatchRecord {
  batchId: string;
  policyId: string;
  ownerId: string;
}

export interface DeviceRecord {
  deviceId: string;
  /** Base64 DER SPKI, as the registry recorded it. */
  enrolmentPublicKey: string;
  enrolmentKeyDigest: string;
  /** Set once imported into a batch; an announced device has a key but no batch. */
  batchId?: string;
  /** Overrides the batch owner after an ownership transfer. */
  ownerId?: string;
  verified: boolean;
  revoked: boolean;
}

export interface DeviceEligibilityState {
  policies: Map<string, PolicyRecord>;
  batches: Map<string, BatchRecord>;
  devices: Map<string, DeviceRecord>;
  /** Device ids per batch, for CertifyDevices on a whole batch. */
  devicesByBatch: Map<string, Set<string>>;
}

export const initialEligibilityState = (): DeviceEligibilityState => ({
  policies: new Map(),
  batches: new Map(),
  devices: new Map(),
  devicesByBatch: new Map(),
});

const moveToBatch = (state: DeviceEligibilityState, device: DeviceRecord, batchId: string) => {
  if (device.batchId) state.devicesByBatch.get(device.batchId)?.delete(device.deviceId);
  device.batchId = batchId;
  let members = state.devicesByBatch.get(batchId);
  if (!members) state.devicesByBatch.set(batchId, (members = new Set()));
  members.add(device.deviceId);
};

type Data<E> = DataOf<E>;

/**
 * Folds one registry event into the state (in place: the projection owns it). The store has
 * already validated each event against its contract, so we dispatch on the type alone.
 */
export function evolveEligibility(state: DeviceEligibilityState, event: EventEnvelope): DeviceEligibilityState {
  switch (event.type) {
    case ServerPolicyDefined.type: {
      const { policyId, certificateLifetimeDays } = event.data as Data<typeof ServerPolicyDefined>;
      state.policies.set(policyId, { policyId, certificateLifetimeDays, issuanceAllowed: true });
      break;
    }
    case BatchCreated.type: {
      const { batchId, policyId, ownerId } = event.data as Data<typeof BatchCreated>;
      state.batches.set(batchId, { batchId, policyId, ownerId });
      break;
    }
    case DeviceIdentityImported.type: {
      const { deviceId, batchId, enrolmentPublicKey, enrolmentKeyDigest } = event.data as Data<typeof DeviceIdentityImported>;
      const known = state.devices.get(deviceId);
      // A different key than before is a different identity: its earlier verification does not carry over.
      const sameKey = known?.enrolmentKeyDigest === enrolmentKeyDigest;
      const device: DeviceRecord = {
        deviceId,
        enrolmentPublicKey,
        enrolmentKeyDigest,
        verified: sameKey ? known.verified : false,
        revoked: known?.revoked ?? false,
        ...(known?.batchId ? { batchId: known.batchId } : {}),
      };
      state.devices.set(deviceId, device);
      moveToBatch(state, device, batchId);
      break;
    }
    case DeviceAnnounced.type: {
      const { deviceId, enrolmentPublicKey, enrolmentKeyDigest } = event.data as Data<typeof DeviceAnnounced>;
      if (!state.devices.has(deviceId)) state.devices.set(deviceId, { deviceId, enrolmentPublicKey, enrolmentKeyDigest, verified: false, revoked: false });
      break;
    }
    case IdentityVerified.type: {
      const { deviceId, enrolmentKeyDigest } = event.data as Data<typeof IdentityVerified>;
      const device = state.devices.get(deviceId);
      if (device && device.enrolmentKeyDigest === enrolmentKeyDigest) device.verified = true;
      break;
    }
    case IdentityVerificationFailed.type: {
      const device = state.devices.get((event.data as Data<typeof IdentityVerificationFailed>).deviceId);
      if (device) device.verified = false;
      break;
    }
    case DeviceRevoked.type: {
      const device = state.devices.get((event.data as Data<typeof DeviceRevoked>).deviceId);
      if (device) device.revoked = true;
      break;
    }
    case OwnershipTransferCompleted.type: {
      const { deviceId, ownerId, batchId } = event.data as Data<typeof OwnershipTransferCompleted>;
      const device = state.devices.get(deviceId);
      if (device) {
        device.ownerId = ownerId;
        if (batchId) moveToBatch(state, device, batchId);
      }
      break;
    }
    default:
      break;
  }
  return state;
}

export const deviceEligibilityProjection: ProjectionDefinition<DeviceEligibilityState> = {
  name: 'ca-device-eligibility',
  context: 'registry',
  initialState: initialEligibilityState,
  evolve: (state, recorded: RecordedEvent) => evolveEligibility(state, recorded.event),
};
