import { Subject, type Observable } from 'rxjs';
import { batchesCollection, devicesCollection } from '../projections/fleet.projection.js';
import { policiesCollection, targetsCollection } from '../projections/catalog.projection.js';
import type { DeviceDocument } from '../projections/fleet.views.js';
import { batchProgress, type BatchProgress } from '../queries/batch-progress/batch-progress.query.js';
import { summaryOf, type DeviceSummary } from '../queries/device-list/device-list.query.js';
import type { MemoryReadStore } from '../read-model/memory-read-store.js';

export type LiveUpdate =
  | { type: 'device'; data: DeviceSummary }
  | { type: 'batch'; data: BatchProgress }
  /** More devices changed in one window than are worth sending one by one: refetch the list. */
  | { type: 'devices-changed'; data: { count: number; batchIds: string[] } }
  | { type: 'catalog'; data: { policies: boolean; targets: boolean } };

export interface LiveFeedOptions {
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
export class LiveFeed {
  readonly #updates = new Subject<LiveUpdate>();
  readonly #devices = new Set<string>();
  readonly #batches = new Set<string>();
  #catalog = { policies: false, targets: false };
  #timer: NodeJS.Timeout | undefined;
  readonly #unsubscribe: () => void;
  readonly #windowMs: number;
  readonly #maxDeviceUpdates: number;

  constructor(
    private readonly store: MemoryReadStore,
    options: LiveFeedOptions = {},
  ) {
    this.#windowMs = options.windowMs ?? 200;
    this.#maxDeviceUpdates = options.maxDeviceUpdates ?? 200;
    this.#unsubscribe = store.onChange(({ writes }) => {
      for (const write of writes) {
        if (write.collection === devicesCollection) this.#devices.add(write.id);
        else if (write.collection === batchesCollection) this.#batches.add(write.id);
        else if (write.collection === policiesCollection) this.#catalog.policies = true;
        else if (write.collection === targetsCollection) this.#catalog.targets = true;
      }
      this.#timer ??= setTimeout(() => this.flush(), this.#windowMs);
    });
  }

  get updates(): Observable<LiveUpdate> {
    return this.#updates.asObservable();
  }

  /** Emits what changed since the last flush. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#devices.size > this.#maxDeviceUpdates) {
      const batchIds = new Set<string>();
      for (const id of this.#devices) {
        const batchId = this.store.get<DeviceDocument>(devicesCollection, id)?.batchId;
        if (batchId) batchIds.add(batchId);
      }
      this.#updates.next({ type: 'devices-changed', data: { count: this.#devices.size, batchIds: [...batchIds] } });
    } else {
      for (const id of this.#devices) {
        const device = this.store.get<DeviceDocument>(devicesCollection, id);
        if (device) this.#updates.next({ type: 'device', data: summaryOf(device) });
      }
    }
    for (const id of this.#batches) {
      try {
        this.#updates.next({ type: 'batch', data: batchProgress(this.store, id) });
      } catch {
        // Counters of a batch whose BatchCreated is not projected yet: it follows with it.
      }
    }
    if (this.#catalog.policies || this.#catalog.targets) this.#updates.next({ type: 'catalog', data: this.#catalog });
    this.#devices.clear();
    this.#batches.clear();
    this.#catalog = { policies: false, targets: false };
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#unsubscribe();
    this.#updates.complete();
  }
}
