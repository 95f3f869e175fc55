import { mapBounded } from '@tunnelkey/concurrency';
import { Subject, type Observable } from 'rxjs';
import type { ProjectionDocument } from '@tunnelkey/projection-store';
import { batchesCollection, devicesCollection, fleetProjectionName, linksCollection } from '../views/fleet.view.js';
import { policiesCollection, targetAuthoritiesCollection, targetsCollection } from '../views/catalog.view.js';
import type { DeviceDocument } from '../views/fleet-documents.js';
import { batchProgress, type BatchProgress } from '../queries/batch-progress/batch-progress.query.js';
import { targetsOf } from '../queries/device-detail/device-detail.query.js';
import { summaryOf, type DeviceSummary } from '../queries/kept-devices.js';
import type { ReadModels } from '../views/read-models.js';

export type LiveUpdate =
  | { type: 'device'; data: DeviceSummary }
  | { type: 'batch'; data: BatchProgress }
  /** More devices changed in one window than are worth sending one by one: refetch the list. */
  | { type: 'devices-changed'; data: { count: number; batchIds: string[]; perBatch?: Record<string, number> } }
  | { type: 'catalog'; data: { policies: boolean; targets: boolean } };

/** Device lookups a flush has in flight at once. */
const lookupsInFlight = 32;

export interface LiveUpdatesOptions {
  /** Changes are coalesced per window: one update per device or batch, however many events. */
  windowMs?: number;
  /** Past this many devices in a window, one `devices-changed` replaces the per-device updates. */
  maxDeviceUpdates?: number;
}

/**
 * What the console's live view needs, derived from the read models' changes (never from raw
 * events): device state, connection and telemetry counters, batch progress, catalog changes.
 * At 10,000 devices a certify run changes thousands a second; coalescing keeps the stream small.
 */
export class LiveUpdates {
  readonly #updates = new Subject<LiveUpdate>();
  readonly #devices = new Set<string>();
  #batches = new Set<string>();
  /** Changed devices whose write did not name their batch: looked up at the flush. */
  readonly #unresolvedDevices = new Set<string>();
  #catalog = { policies: false, targets: false };
  #timer: NodeJS.Timeout | undefined;
  readonly #unsubscribe: () => void;
  readonly #windowMs: number;
  readonly #maxDeviceUpdates: number;

  constructor(
    private readonly readModels: ReadModels,
    options: LiveUpdatesOptions = {},
  ) {
    this.#windowMs = options.windowMs ?? 200;
    this.#maxDeviceUpdates = options.maxDeviceUpdates ?? 200;
    this.#unsubscribe = readModels.onChange(({ writes }) => {
      for (const write of writes) {
        if (write.collection === devicesCollection) {
          this.#devices.add(write.id);
          // A device's batch counts are derived from its fields: any change may move them.
          const batchId = write.type === 'upsert' ? write.set?.batchId : undefined;
          if (typeof batchId === 'string') this.#batches.add(batchId);
          else this.#unresolvedDevices.add(write.id);
        } else if (
          write.collection === linksCollection &&
          write.type === 'upsert' &&
          write.set &&
          ('connected' in write.set || 'status' in write.set)
        ) {
          this.#catalog.targets = true;
        } else if (write.collection === batchesCollection) this.#batches.add(write.id);
        else if (write.collection === policiesCollection) this.#catalog.policies = true;
        else if (write.collection === targetsCollection || write.collection === targetAuthoritiesCollection)
          this.#catalog.targets = true;
      }
      this.#timer ??= setTimeout(() => void this.flush(), this.#windowMs);
    });
  }

  get updates(): Observable<LiveUpdate> {
    return this.#updates.asObservable();
  }

  /** Emits what changed since the last flush. */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const devices = [...this.#devices];
    const unresolved = [...this.#unresolvedDevices];
    const batches = this.#batches;
    const catalog = this.#catalog;
    this.#devices.clear();
    this.#unresolvedDevices.clear();
    this.#batches = new Set();
    this.#catalog = { policies: false, targets: false };
    const store = this.readModels.store;
    const get = (id: string) =>
      store.get<DeviceDocument & ProjectionDocument>(fleetProjectionName, devicesCollection, id);
    // Thousands of devices change in a window of a certify run: bounded, or MongoDB gets them all at once.
    const getAll = (ids: readonly string[]) => mapBounded(ids, lookupsInFlight, get);
    try {
      for (const device of await getAll(unresolved)) if (device?.batchId) batches.add(device.batchId);
      if (devices.length > this.#maxDeviceUpdates) {
        // Per batch too: a stream of one owner counts its own batches' devices only.
        const perBatch: Record<string, number> = {};
        for (const device of await getAll(devices))
          if (device?.batchId) perBatch[device.batchId] = (perBatch[device.batchId] ?? 0) + 1;
        const data = { count: devices.length, batchIds: Object.keys(perBatch), perBatch };
        this.#updates.next({ type: 'devices-changed', data });
      } else {
        for (const id of devices) {
          const device = await get(id);
          if (device) this.#updates.next({ type: 'device', data: summaryOf(device, await targetsOf(store, id)) });
        }
      }
      for (const id of batches) {
        try {
          this.#updates.next({ type: 'batch', data: await batchProgress(store, id) });
        } catch {
          // Counters of a batch whose BatchCreated is not projected yet: it follows with it.
        }
      }
      if (catalog.policies || catalog.targets) this.#updates.next({ type: 'catalog', data: catalog });
    } catch {
      // The store is unreachable for a moment: the next change sends fresh state.
    }
  }

  onModuleDestroy(): void {
    this.close();
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#unsubscribe();
    this.#updates.complete();
  }
}
