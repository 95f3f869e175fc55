/**
 * Query: "may this device be certified, with which key, lifetime and owner?", from the registry's
 * events. A LiveView: rebuilt from the log at start, then followed; lookups are synchronous Map
 * reads, so a CSR never waits on the view unless it finds something the view may simply not have
 * seen yet (then `catchUp`). Revocation is sticky: no later event makes a revoked device eligible.
 */
import {
  BatchCreated,
  DeviceAnnounced,
  DeviceIdentityImported,
  DeviceRevoked,
  IdentityVerificationFailed,
  IdentityVerified,
  OwnershipTransferCompleted,
  RenewalPolicyDefined,
  ServerPolicyDefined,
  type CertifyDevices,
  type CommandOf,
  type DataOf,
  type EventEnvelope,
} from '@tunnelkey/contracts';
import { importVerifyKey, type CryptoKey } from '@tunnelkey/device-protocol';
import { LiveView, type EventStore } from '@tunnelkey/eventstore';
import { InMemoryView } from '@tunnelkey/messaging';
import type { Logger } from 'pino';

/** Imported enrolment keys kept at most (then the cache starts again empty). */
const maxCachedKeys = 20_000;

export interface PolicyRecord {
  policyId: string;
  certificateLifetimeDays: number;
  /** No registry event suspends issuance yet; kept so one can without touching the validators. */
  issuanceAllowed: boolean;
  /** RenewalPolicyDefined: when certificates renew (absent: the defaults). */
  renewal?: { renewAtShare: number; jitterShare: number };
  /** RenewalPolicyDefined: a lifetime in seconds that overrides certificateLifetimeDays (short-lived certificates). */
  certificateLifetimeSeconds?: number;
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
  /** The owner epoch its TLS keys are derived under (absent: 0, never transferred). */
  ownerEpoch?: number;
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
 * Folds one registry event into the state (in place: the view owns it). The store has
 * already validated each event against its contract, so we dispatch on the type alone.
 */
export function evolveEligibility(state: DeviceEligibilityState, event: EventEnvelope): DeviceEligibilityState {
  switch (event.type) {
    case ServerPolicyDefined.type: {
      const { policyId, certificateLifetimeDays } = event.data as Data<typeof ServerPolicyDefined>;
      const { renewal, certificateLifetimeSeconds } = state.policies.get(policyId) ?? {};
      state.policies.set(policyId, {
        policyId,
        certificateLifetimeDays,
        issuanceAllowed: true,
        // Its renewal settings are their own event: a redefinition keeps them.
        ...(renewal ? { renewal } : {}),
        ...(certificateLifetimeSeconds ? { certificateLifetimeSeconds } : {}),
      });
      break;
    }
    case RenewalPolicyDefined.type: {
      const { policyId, renewAtShare, jitterShare, certificateLifetimeSeconds } = event.data as Data<
        typeof RenewalPolicyDefined
      >;
      const policy = state.policies.get(policyId);
      if (policy) {
        policy.renewal = { renewAtShare, jitterShare };
        if (certificateLifetimeSeconds) policy.certificateLifetimeSeconds = certificateLifetimeSeconds;
        else delete policy.certificateLifetimeSeconds;
      }
      break;
    }
    case BatchCreated.type: {
      const { batchId, policyId, ownerId } = event.data as Data<typeof BatchCreated>;
      state.batches.set(batchId, { batchId, policyId, ownerId });
      break;
    }
    case DeviceIdentityImported.type: {
      const { deviceId, batchId, enrolmentPublicKey, enrolmentKeyDigest } = event.data as Data<
        typeof DeviceIdentityImported
      >;
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
      if (!state.devices.has(deviceId))
        state.devices.set(deviceId, {
          deviceId,
          enrolmentPublicKey,
          enrolmentKeyDigest,
          verified: false,
          revoked: false,
        });
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
      const { deviceId, ownerId, batchId, ownerEpoch } = event.data as Data<typeof OwnershipTransferCompleted>;
      const device = state.devices.get(deviceId);
      if (device) {
        device.ownerId = ownerId;
        device.ownerEpoch = ownerEpoch;
        // The new owner proves the device again (a fresh identity challenge) before it certifies it.
        device.verified = false;
        if (batchId) moveToBatch(state, device, batchId);
      }
      break;
    }
    default:
      break;
  }
  return state;
}

/** Which devices a bulk command names (contracts' DeviceScope). */
export type DeviceScope = CommandOf<typeof CertifyDevices>['scope'];

export interface DeviceFacts {
  device?: DeviceRecord;
  batch?: BatchRecord;
  policy?: PolicyRecord;
  /** The batch owner, or the new owner after a transfer. */
  ownerId?: string;
}

export class DeviceEligibilityView extends InMemoryView<DeviceEligibilityState> {
  static readonly viewName = 'ca-device-eligibility';
  #catchingUp: Promise<void> | undefined;
  // Imported verify keys, per device and key digest (a re-import with a new key gets a new entry).
  readonly #keys = new Map<string, { digest: string; key: Promise<CryptoKey> }>();

  private constructor(view: LiveView<DeviceEligibilityState>) {
    super(view);
  }

  /** Rebuilds from the registry's log, then follows it (every CA instance sees every event). */
  static async start(store: EventStore, logger: Logger): Promise<DeviceEligibilityView> {
    const started = Date.now();
    const view = await LiveView.start(
      store,
      {
        name: DeviceEligibilityView.viewName,
        sources: [{ context: 'registry' }],
        // Checkpointed: a restart loads the newest checkpoint and replays only what follows. Bump the version
        // when the state or evolve changes.
        // 2: policies carry their renewal settings (RenewalPolicyDefined).
        // 3: devices carry their owner epoch, and a transfer unverifies them (OwnershipTransferCompleted v2).
        checkpoint: { owner: 'ca', version: 3 },
        initialState: initialEligibilityState,
        evolve: (state, recorded) => evolveEligibility(state, recorded.event),
      },
      { logger },
    );
    const devices = view.state.devices.size;
    logger.info(
      {
        event: 'ca.eligibility_ready',
        devices,
        checkpoint: view.checkpoint({ context: 'registry' }),
        ms: Date.now() - started,
      },
      'device eligibility view caught up',
    );
    return new DeviceEligibilityView(view);
  }

  /** Waits until the view holds everything in the registry log now; concurrent callers share one wait. */
  override catchUp(): Promise<void> {
    this.#catchingUp ??= this.live.catchUp().finally(() => (this.#catchingUp = undefined));
    return this.#catchingUp;
  }

  facts(deviceId: string): DeviceFacts {
    const state = this.state;
    const device = state.devices.get(deviceId);
    if (!device) return {};
    const batch = device.batchId ? state.batches.get(device.batchId) : undefined;
    const policy = batch ? state.policies.get(batch.policyId) : undefined;
    const ownerId = device.ownerId ?? batch?.ownerId;
    return { device, ...(batch ? { batch } : {}), ...(policy ? { policy } : {}), ...(ownerId ? { ownerId } : {}) };
  }

  /** Device ids a CertifyDevices scope names (devices the CA has never heard of are left out). */
  devicesInScope(scope: DeviceScope): string[] {
    const state = this.state;
    switch (scope.kind) {
      case 'device':
        return state.devices.has(scope.deviceId) ? [scope.deviceId] : [];
      case 'devices':
        return [...new Set(scope.deviceIds)].filter((id) => state.devices.has(id));
      case 'batch':
        return [...(state.devicesByBatch.get(scope.batchId) ?? [])];
      default: {
        const unknown: never = scope;
        return unknown;
      }
    }
  }

  /** Owners of every batch known: each gets an issuing CA at start. */
  owners(): string[] {
    return [...new Set([...this.state.batches.values()].map((b) => b.ownerId))];
  }

  /** The device's enrolment key as a verify key, imported once per key. */
  enrolmentKey(device: DeviceRecord): Promise<CryptoKey> {
    const cached = this.#keys.get(device.deviceId);
    if (cached && cached.digest === device.enrolmentKeyDigest) return cached.key;
    const key = importVerifyKey(device.enrolmentPublicKey);
    key.catch(() => this.#keys.delete(device.deviceId));
    // Bounded as the registry's: a device's key is used for its few CSRs, and a 100,000-device batch
    // must not keep 100,000 keys alive.
    if (this.#keys.size >= maxCachedKeys) this.#keys.clear();
    this.#keys.set(device.deviceId, { digest: device.enrolmentKeyDigest, key });
    return key;
  }
}
