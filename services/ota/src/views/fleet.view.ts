/**
 * Query: which devices does a rollout over these batches reach, and can each be offered it? Folded
 * from the registry (batch membership, enrolment key, certified, revoked, owner epoch), onboarding (connected
 * or disconnected last) and OTA's own log (the firmware-decryption keys each device reported) in a
 * LiveView, checkpointed. "Offline" is a device whose last connection event is a disconnect; a
 * device never seen on a target is reachable on the bus and not offline. After an ownership
 * transfer (OwnershipTransferCompleted) the device is in its new owner's batch, not certified until
 * the new owner certifies it, and its firmware keys of earlier owner epochs are dropped: it has none
 * until it reports those of its new epoch, so no wrap is ever made for keys an earlier owner saw.
 */
import {
  DeviceCertified,
  DeviceConnected,
  DeviceDisconnected,
  DeviceFirmwareKeysRecorded,
  DeviceIdentityImported,
  DeviceRevoked,
  OwnershipTransferCompleted,
  type DataOf,
  type EventEnvelope,
} from '@tunnelkey/contracts';
import { importVerifyKey, type CryptoKey } from '@tunnelkey/device-protocol';
import { LiveView, type EventStore } from '@tunnelkey/eventstore';
import { InMemoryView } from '@tunnelkey/messaging';
import type { Logger } from 'pino';

type D<E> = DataOf<E>;

export interface FleetDevice {
  deviceId: string;
  batchId: string;
  enrolmentPublicKey: string;
  certified: boolean;
  revoked: boolean;
  /** false once the last connection event is a disconnect. */
  online: boolean;
  /** The device's current owner epoch (0 until it is transferred). */
  ownerEpoch: number;
  /** The newest firmware-decryption keys it reported, of `keys.ownerEpoch`. */
  keys?: FleetDeviceKeys;
}

export interface FleetDeviceKeys {
  ecdhPublicKey: string;
  mlKemPublicKey: string;
  ownerEpoch: number;
}

export interface FleetState {
  devices: Map<string, FleetDevice>;
  /** batchId -> device ids, in import order. */
  batches: Map<string, string[]>;
}

/** Why a device cannot be offered an update now; undefined when it can. */
export type Ineligibility = 'revoked' | 'not-certified' | 'offline' | 'no-firmware-keys';

export function ineligibility(device: FleetDevice): Ineligibility | undefined {
  if (device.revoked) return 'revoked';
  if (!device.certified) return 'not-certified';
  if (!device.online) return 'offline';
  if (!firmwareKeysOf(device)) return 'no-firmware-keys';
  return undefined;
}

/** The firmware keys a wrap may be made for: those of the device's current owner epoch, else none. */
export function firmwareKeysOf(device: FleetDevice): FleetDeviceKeys | undefined {
  return device.keys?.ownerEpoch === device.ownerEpoch ? device.keys : undefined;
}

function moveToBatch(state: FleetState, deviceId: string, from: string | undefined, to: string): void {
  if (from === to) return;
  const members = from === undefined ? undefined : state.batches.get(from);
  if (from !== undefined && members)
    state.batches.set(
      from,
      members.filter((id) => id !== deviceId),
    );
  state.batches.set(to, [...(state.batches.get(to) ?? []), deviceId]);
}

export function foldFleet(state: FleetState, event: EventEnvelope): void {
  switch (event.type) {
    case DeviceIdentityImported.type: {
      const { deviceId, batchId, enrolmentPublicKey } = event.data as D<typeof DeviceIdentityImported>;
      const known = state.devices.get(deviceId);
      moveToBatch(state, deviceId, known?.batchId, batchId);
      state.devices.set(deviceId, {
        deviceId,
        batchId,
        enrolmentPublicKey,
        certified: known?.enrolmentPublicKey === enrolmentPublicKey ? known.certified : false,
        revoked: known?.revoked ?? false,
        online: known?.online ?? true,
        ownerEpoch: known?.ownerEpoch ?? 0,
        ...(known?.keys ? { keys: known.keys } : {}),
      });
      break;
    }
    case OwnershipTransferCompleted.type: {
      const { deviceId, ownerEpoch, batchId } = event.data as D<typeof OwnershipTransferCompleted>;
      const device = state.devices.get(deviceId);
      if (!device || ownerEpoch <= device.ownerEpoch) break;
      device.ownerEpoch = ownerEpoch;
      // The new owner certifies it again (the old owner's certificates are revoked).
      device.certified = false;
      if (device.keys && device.keys.ownerEpoch < ownerEpoch) delete device.keys;
      if (batchId) {
        moveToBatch(state, deviceId, device.batchId, batchId);
        device.batchId = batchId;
      }
      break;
    }
    case DeviceCertified.type: {
      const device = state.devices.get((event.data as D<typeof DeviceCertified>).deviceId);
      if (device) device.certified = true;
      break;
    }
    case DeviceRevoked.type: {
      const device = state.devices.get((event.data as D<typeof DeviceRevoked>).deviceId);
      if (device) device.revoked = true;
      break;
    }
    case DeviceConnected.type:
    case DeviceDisconnected.type: {
      const device = state.devices.get((event.data as D<typeof DeviceConnected>).deviceId);
      if (device) device.online = event.type === DeviceConnected.type;
      break;
    }
    case DeviceFirmwareKeysRecorded.type: {
      // A v1 (recorded before owner epochs) has none: epoch 0, as the contract's upcaster says.
      const data = event.data as D<typeof DeviceFirmwareKeysRecorded>;
      const { deviceId, ecdhPublicKey, mlKemPublicKey } = data;
      const ownerEpoch = data.ownerEpoch ?? 0;
      const device = state.devices.get(deviceId);
      // Keys of an earlier owner epoch than the device's are never used again.
      if (device && ownerEpoch >= device.ownerEpoch) device.keys = { ecdhPublicKey, mlKemPublicKey, ownerEpoch };
      break;
    }
    default:
      break;
  }
}

const maxCachedKeys = 20_000;

export class FleetView extends InMemoryView<FleetState> {
  static readonly viewName = 'ota-fleet';
  readonly #verifyKeys = new Map<string, Promise<CryptoKey>>();

  static async start(store: EventStore, logger?: Logger): Promise<FleetView> {
    const live = await LiveView.start<FleetState>(
      store,
      {
        name: FleetView.viewName,
        sources: [
          { context: 'registry', aggregate: 'device' },
          { context: 'onboarding', aggregate: 'device' },
          { context: 'ota', aggregate: 'device' },
        ],
        initialState: () => ({ devices: new Map(), batches: new Map() }),
        evolve: (state, { event }) => (foldFleet(state, event), state),
        // Checkpointed: a restart loads the newest checkpoint and replays only what follows. Bump the
        // version when the state or the fold changes.
        checkpoint: { owner: 'ota', version: 2 },
      },
      logger ? { logger } : {},
    );
    return new FleetView(live);
  }

  device(deviceId: string): FleetDevice | undefined {
    return this.state.devices.get(deviceId);
  }

  /** The devices of the batches, each once, in batch then import order. */
  devicesOf(batchIds: readonly string[]): FleetDevice[] {
    const seen = new Set<string>();
    const devices: FleetDevice[] = [];
    for (const batchId of batchIds)
      for (const deviceId of this.state.batches.get(batchId) ?? []) {
        const device = this.state.devices.get(deviceId);
        if (device && device.batchId === batchId && !seen.has(deviceId)) {
          seen.add(deviceId);
          devices.push(device);
        }
      }
    return devices;
  }

  hasBatch(batchId: string): boolean {
    return this.state.batches.has(batchId);
  }

  /** The device's enrolment key as a verify key, imported once per key (bounded cache). */
  enrolmentKey(device: FleetDevice): Promise<CryptoKey> {
    const cacheKey = `${device.deviceId}:${device.enrolmentPublicKey}`;
    let key = this.#verifyKeys.get(cacheKey);
    if (!key) {
      if (this.#verifyKeys.size >= maxCachedKeys) this.#verifyKeys.clear();
      key = importVerifyKey(device.enrolmentPublicKey);
      key.catch(() => this.#verifyKeys.delete(cacheKey));
      this.#verifyKeys.set(cacheKey, key);
    }
    return key;
  }
}
