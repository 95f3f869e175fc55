import type { ProjectionDocument, Write } from '@tunnelkey/projection-store';
import type { ReadModels } from '../views/read-models.js';
import { devicesCollection, fleetProjectionName, linksCollection } from '../views/fleet.view.js';
import {
  connectionOf,
  stateChangedAtOf,
  stateOf,
  type ConnectionState,
  type DeviceDocument,
  type DeviceStateName,
  type TargetLink,
} from '../views/fleet-documents.js';
import { KeptValues } from '../views/kept-values.js';
import { deviceDetail, targetsOf, type DetailViewer } from './device-detail/device-detail.query.js';

export type DeviceSummary = {
  deviceId: string;
  batchId?: string;
  state: DeviceStateName;
  stateChangedAt: string;
  connection: ConnectionState;
  targets: { targetId: string; status: string; connected: boolean }[];
  messagesTotal: number;
  lastTelemetryAt?: string;
  certificate?: { serialNumber: string; notAfter: string; fingerprintSha256: string };
  problem?: string;
};

/** A device's list entry: its state, connection and totals derived from its document and links. */
export function summaryOf(
  device: DeviceDocument,
  targets: readonly (TargetLink & { targetId: string })[],
): DeviceSummary {
  const state = stateOf(device);
  const problem =
    device.certificateRejection?.reason ?? (state === 'Imported' ? device.verificationFailure?.reason : undefined);
  return {
    deviceId: device.deviceId,
    ...(device.batchId ? { batchId: device.batchId } : {}),
    state,
    stateChangedAt: stateChangedAtOf(device),
    connection: connectionOf(device),
    targets: targets.map(({ targetId, status, connected }) => ({ targetId, status, connected })),
    messagesTotal: targets.reduce((sum, t) => sum + (t.telemetry?.messagesTotal ?? 0), 0),
    ...(device.lastTelemetryAt ? { lastTelemetryAt: device.lastTelemetryAt } : {}),
    ...(device.certificate
      ? {
          certificate: {
            serialNumber: device.certificate.serialNumber,
            notAfter: device.certificate.notAfter,
            fingerprintSha256: device.certificate.fingerprintSha256,
          },
        }
      : {}),
    ...(problem ? { problem } : {}),
  };
}

/** Devices kept at most; past it the cache starts again (a fleet of more pages through it in turn). */
const maxKept = 200_000;

/** Shared with every reader: never changed in place. */
export interface Kept {
  summary: DeviceSummary;
  /**
   * The summary as JSON, UTF-8 encoded once: a page of the list is its devices' bytes copied into
   * one buffer, sent as is (a string joined from them was measured and encoded again per request).
   */
  json: Buffer;
}

/**
 * Each device's list entry and detail, derived and serialized once and kept until the fleet view
 * writes to the device or one of its links. A page of GET /api/devices was a document copy and a
 * links find per device, then the JSON of all of them: about seven times what /health costs
 * (issue 19, bench:api); a detail, a copy of the document with its certificates and the JSON of
 * them. The store's commits drop what they touch before the next read (`onCommitted`: every
 * commit, so also those another gateway on a shared MongoDB applied first).
 */
export class KeptDevices {
  readonly #summaries: KeptValues<Kept>;
  readonly #details: KeptValues<{ json: Buffer; transferred: boolean }>;

  /** Without `onCommitted` (a bare store) nothing is kept: every entry is derived afresh. */
  constructor(private readonly readModels: Pick<ReadModels, 'store'> & Partial<Pick<ReadModels, 'onCommitted'>>) {
    const keeps = readModels.onCommitted !== undefined;
    this.#summaries = new KeptValues(keeps, maxKept);
    this.#details = new KeptValues(keeps, maxKept);
    readModels.onCommitted?.(({ projection, writes }) => {
      if (projection === fleetProjectionName) this.#drop(writes);
    });
  }

  /** The devices' list entries in the order given; an id without a device document is left out. */
  async summaries(deviceIds: readonly string[]): Promise<readonly Kept[]> {
    // A page whose every entry is kept (the usual case) costs no promise per device.
    const kept: Kept[] = [];
    for (const id of deviceIds) {
      const entry = this.#summaries.peek(id);
      if (entry === undefined) break;
      kept.push(entry);
    }
    if (kept.length === deviceIds.length) return kept;
    const found = await Promise.all(deviceIds.map((id) => this.#summaries.get(id, () => this.#summaryOf(id))));
    return found.filter((entry): entry is Kept => entry !== undefined);
  }

  /**
   * GET /api/devices/{deviceId} as JSON, UTF-8 encoded (NotFound for an unknown device, never
   * kept). A device transferred between owners looks different to each (an owner sees its own
   * targets only, owner-era.ts): for a `viewer` its detail is derived afresh; every other one is the
   * same for all.
   */
  async detailJson(deviceId: string, viewer?: DetailViewer): Promise<Buffer> {
    const kept = await this.#details.get(deviceId, async () => {
      const detail = await deviceDetail(this.readModels.store, deviceId);
      return { json: jsonBytes(detail), transferred: detail.lastTransfer !== undefined };
    });
    if (viewer && kept!.transferred) return jsonBytes(await deviceDetail(this.readModels.store, deviceId, viewer));
    return kept!.json;
  }

  async #summaryOf(deviceId: string): Promise<Kept | undefined> {
    const store = this.readModels.store;
    const [device, targets] = await Promise.all([
      store.get<DeviceDocument & ProjectionDocument>(fleetProjectionName, devicesCollection, deviceId),
      targetsOf(store, deviceId),
    ]);
    if (!device) return undefined;
    const summary = summaryOf(device, targets);
    return { summary, json: jsonBytes(summary) };
  }

  #drop(writes: readonly Write[]): void {
    for (const write of writes) {
      // A link's id is `<deviceId>/<targetId>` (device ids have no slash).
      const deviceId =
        write.collection === devicesCollection
          ? write.id
          : write.collection === linksCollection
            ? write.id.split('/')[0]!
            : undefined;
      if (deviceId === undefined) continue;
      this.#summaries.drop(deviceId);
      this.#details.drop(deviceId);
    }
  }
}

/**
 * A value's JSON, UTF-8, in a buffer of its own: not a slice of Node's shared 8 KB pool, which one
 * kept entry would hold whole once the others on it were dropped and derived again.
 */
function jsonBytes(value: unknown): Buffer {
  const text = JSON.stringify(value);
  const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text, 'utf8'));
  bytes.write(text, 'utf8');
  return bytes;
}

const perReadModels = new WeakMap<object, KeptDevices>();

/** The one cache of these read models (the device routes and whoever else shows devices share it). */
export function keptDevicesOf(readModels: Pick<ReadModels, 'store' | 'onCommitted'>): KeptDevices {
  let kept = perReadModels.get(readModels);
  if (!kept) perReadModels.set(readModels, (kept = new KeptDevices(readModels)));
  return kept;
}
