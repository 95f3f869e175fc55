import { Subject, type Observable } from 'rxjs';
import { fleetCounts, type FleetCounts } from '../queries/fleet-summary/fleet-summary.query.js';
import { devicesCollection, linksCollection } from '../views/fleet.view.js';
import type { ReadModels } from '../views/read-models.js';

/** One point of the fleet dashboard's time series. */
export interface FleetSample extends FleetCounts {
  /** Epoch milliseconds. */
  at: number;
  /**
   * Telemetry messages the devices reported, summed over their links, as far as this gateway has
   * followed the log (the console draws the rate from two samples).
   */
  telemetryMessages: number;
}

export interface FleetPulseOptions {
  /** A sample at most this often while the fleet changes. */
  sampleMs?: number;
  /** A sample at least this often while nothing changes, so a rate drawn from them falls to 0. */
  idleSampleMs?: number;
  /** Samples kept for a console that opens later (default 900: 15 minutes of a changing fleet). */
  keep?: number;
  now?: () => number;
}

type ChangeFeed = Pick<ReadModels, 'store' | 'onChange'>;

/**
 * The fleet's numbers over time for the console's dashboard, from the read models' changes: the
 * devices per state, connected, certified and revoked (counted, once per sample, only after a
 * device changed) and the telemetry messages (the growth of each link's reported total). Samples are
 * few (one a second at most) however many devices change, and the last ones are kept so a console
 * opened later draws the recent past at once.
 */
export class FleetPulse {
  readonly #samples: FleetSample[] = [];
  readonly #updates = new Subject<FleetSample>();
  /** Each link's last reported message total. */
  readonly #linkTotals = new Map<string, number>();
  readonly #unsubscribe: () => void;
  readonly #timer: NodeJS.Timeout;
  readonly #idleSampleMs: number;
  readonly #keep: number;
  readonly #now: () => number;
  #telemetryMessages = 0;
  #counts: FleetCounts | undefined;
  #devicesChanged = true;
  #telemetryChanged = false;
  #sampling = false;

  constructor(
    private readonly readModels: ChangeFeed,
    options: FleetPulseOptions = {},
  ) {
    this.#idleSampleMs = options.idleSampleMs ?? 10_000;
    this.#keep = options.keep ?? 900;
    this.#now = options.now ?? Date.now;
    this.#unsubscribe = readModels.onChange(({ writes }) => {
      for (const write of writes) {
        if (write.collection === linksCollection) {
          const total =
            write.type === 'upsert' ? (write.set?.telemetry as { messagesTotal?: unknown })?.messagesTotal : 0;
          if (typeof total !== 'number') continue;
          const before = this.#linkTotals.get(write.id) ?? 0;
          this.#linkTotals.set(write.id, total);
          // A total only grows; a smaller one is an older report applied late, not a reset.
          if (total > before) {
            this.#telemetryMessages += total - before;
            this.#telemetryChanged = true;
          }
        } else if (write.collection === devicesCollection) this.#devicesChanged = true;
      }
    });
    this.#timer = setInterval(() => void this.sample(), options.sampleMs ?? 1_000);
    this.#timer.unref();
  }

  /** New samples as they are taken. */
  get updates(): Observable<FleetSample> {
    return this.#updates.asObservable();
  }

  /** The samples kept, oldest first. */
  samples(): FleetSample[] {
    return [...this.#samples];
  }

  /**
   * Takes a sample when something changed since the last one, or when the last is older than the
   * idle interval; recounts the devices only when a device changed. Returns it, or undefined.
   */
  async sample(): Promise<FleetSample | undefined> {
    if (this.#sampling) return undefined;
    const now = this.#now();
    const last = this.#samples.at(-1);
    const idle = !last || now - last.at >= this.#idleSampleMs;
    if (!this.#devicesChanged && !this.#telemetryChanged && !idle) return undefined;
    this.#sampling = true;
    try {
      if (this.#devicesChanged || !this.#counts) {
        this.#devicesChanged = false;
        try {
          this.#counts = await fleetCounts(this.readModels.store);
        } catch {
          // The store is unreachable for a moment: counted again at the next tick.
          this.#devicesChanged = true;
          return undefined;
        }
      }
      this.#telemetryChanged = false;
      const sample: FleetSample = { at: now, ...this.#counts, telemetryMessages: this.#telemetryMessages };
      this.#samples.push(sample);
      if (this.#samples.length > this.#keep) this.#samples.splice(0, this.#samples.length - this.#keep);
      this.#updates.next(sample);
      return sample;
    } finally {
      this.#sampling = false;
    }
  }

  onModuleDestroy(): void {
    this.close();
  }

  close(): void {
    clearInterval(this.#timer);
    this.#unsubscribe();
    this.#updates.complete();
  }
}
