import { ConcurrencyLimiter } from './concurrency-limiter.js';
import { mapBounded } from './map-bounded.js';

/** One thing asked of a device and not answered yet: it holds a slot of the window until released. */
export interface Outstanding<T> {
  readonly key: string;
  /** The caller's own data (it may update it: e.g. once recorded). */
  readonly item: T;
  /** ms since the epoch: past it, `due()` lists the entry as expired (the caller gives it up). */
  expiresAt: number;
  /** Sends so far (`sent()` counts them). */
  attempts: number;
  /** ms since the epoch: from then on `due()` lists the entry as due to be sent again. */
  nextAttemptAt: number;
}

/** An entry to add: it expires at a set time (taken over from the log), or that long after it takes its slot. */
export type Added<T> = { key: string; item: T } & ({ expiresAt: number } | { expiresAfterMs: number });

export interface OutstandingWindowOptions<T> {
  /** Entries outstanding at once; the next queued one takes the slot an entry releases. */
  size: number;
  /** Wait after the first send before the entry is due again; doubled after each send. */
  retryMs: number;
  /** Attempts (records, sends) in flight at once: a 10,000-device call must not swamp the bus. */
  concurrentAttempts: number;
  /**
   * Wait before an attempt that could not reach the log or the bus (`retryLater`) is made again.
   * Default `retryMs`, at most 2 s: the bus may be back in a moment (a paused server gives no sign).
   */
  unreachableRetryMs?: number;
  /** ms since the epoch. */
  now: () => number;
  /**
   * The first attempt, when the entry takes its slot, and again when it is added while outstanding
   * already (a retried command): records / sends it, calls `sent()` for each send. It may
   * `release()` the entry (nothing to ask). Its rejection goes to `onError`, the entry stays.
   */
  attempt: (entry: Outstanding<T>) => Promise<unknown>;
  onError: (error: unknown, entry: Outstanding<T> | undefined) => void;
}

/**
 * A bounded window of outstanding asks (CSR requests, identity challenges): an entry takes a slot
 * when there is room, holds it until the caller releases it (answered, given up, revoked), and is
 * due to be sent again at doubling intervals. The caller's sweep reads `due()` and does the sends
 * and the giving up; the window keeps the slots, the schedule and the queue.
 */
export class OutstandingWindow<T> {
  readonly #slots: ConcurrencyLimiter;
  readonly #attempts: ConcurrencyLimiter;
  readonly #outstanding = new Map<string, Outstanding<T> & { release: () => void }>();
  #queued = 0;
  /** Keys queued and not holding a slot yet. */
  readonly #waiting = new Set<string>();
  #closed = false;

  constructor(private readonly options: OutstandingWindowOptions<T>) {
    this.#slots = new ConcurrencyLimiter(options.size);
    this.#attempts = new ConcurrencyLimiter(options.concurrentAttempts);
  }

  get size(): number {
    return this.#slots.limit;
  }

  /** Entries holding a slot. */
  get outstanding(): number {
    return this.#outstanding.size;
  }

  /** Entries waiting for a slot. */
  get queued(): number {
    return this.#queued;
  }

  get(key: string): Outstanding<T> | undefined {
    return this.#outstanding.get(key);
  }

  /** True while the key holds a slot or waits for one. */
  tracks(key: string): boolean {
    return this.#outstanding.has(key) || this.#waiting.has(key);
  }

  /** True while `entry` is the one holding its key's slot (not released, not replaced). */
  holds(entry: Outstanding<T>): boolean {
    return this.#outstanding.get(entry.key) === entry;
  }

  entries(): Outstanding<T>[] {
    return [...this.#outstanding.values()];
  }

  /**
   * Queues the entries and returns at once; each takes a slot when there is room and is attempted
   * then. An entry whose key is outstanding already is attempted again now, holding no second slot;
   * one whose key waits for a slot already is not queued twice.
   */
  add(entries: readonly Added<T>[]): void {
    const fresh = entries.filter((entry) => !this.#waiting.has(entry.key));
    for (const entry of fresh) this.#waiting.add(entry.key);
    this.#queued += fresh.length;
    // At most `size` entries wait on the slots per call; the rest stay in `fresh`.
    mapBounded(fresh, this.#slots.limit, (entry) =>
      this.#slots.run(() => {
        this.#queued--;
        this.#waiting.delete(entry.key);
        return this.#hold(entry);
      }),
    ).catch((error: unknown) => this.options.onError(error, undefined));
  }

  /** Frees the entry's slot; false when it holds none. */
  release(key: string): boolean {
    const entry = this.#outstanding.get(key);
    if (!entry) return false;
    this.#outstanding.delete(key);
    entry.release();
    return true;
  }

  /** Counts a send and schedules the next: 1, 2, 4, ... times `retryMs` after the 1st, 2nd, 3rd send. */
  sent(entry: Outstanding<T>): number {
    entry.attempts++;
    entry.nextAttemptAt = this.options.now() + this.options.retryMs * 2 ** Math.min(entry.attempts - 1, 20);
    return entry.attempts;
  }

  /** Not sent (the log or the bus out of reach): due again `unreachableRetryMs` from now. */
  retryLater(entry: Outstanding<T>): void {
    entry.nextAttemptAt =
      this.options.now() + (this.options.unreachableRetryMs ?? Math.min(this.options.retryMs, 2_000));
  }

  /**
   * Makes every outstanding entry due now (the next `due()` lists it), its doubling kept: what was
   * sent before the bus went away may be lost, and its next send would otherwise wait out the
   * retry interval. Returns how many entries that covers.
   */
  dueNow(): number {
    const now = this.options.now();
    for (const entry of this.#outstanding.values()) entry.nextAttemptAt = Math.min(entry.nextAttemptAt, now);
    return this.#outstanding.size;
  }

  /** The entries past their expiry, and the others due to be sent again. */
  due(): { expired: Outstanding<T>[]; due: Outstanding<T>[] } {
    const now = this.options.now();
    const expired: Outstanding<T>[] = [];
    const due: Outstanding<T>[] = [];
    for (const entry of this.#outstanding.values()) {
      if (now >= entry.expiresAt) expired.push(entry);
      else if (now >= entry.nextAttemptAt) due.push(entry);
    }
    return { expired, due };
  }

  /** Runs `task` within the bound on attempts in flight. */
  run<R>(task: () => Promise<R>): Promise<R> {
    return this.#attempts.run(task);
  }

  /** Resolves once no attempt runs or waits and the slots have taken what they have room for (tests). */
  async idle(): Promise<void> {
    do {
      await this.#attempts.idle();
      await new Promise((resolve) => setImmediate(resolve));
    } while (this.#attempts.active > 0 || this.#attempts.waiting > 0);
  }

  /** Takes nothing more: frees every slot (the queued entries pass through unattempted) and waits. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const key of [...this.#outstanding.keys()]) this.release(key);
    await this.#attempts.idle();
    await this.#slots.idle();
  }

  async #hold(added: Added<T>): Promise<void> {
    if (this.#closed) return;
    const known = this.#outstanding.get(added.key);
    if (known) {
      // Outstanding already (a retried command): attempted again now, no second slot.
      await this.#attempt(known);
      return;
    }
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const now = this.options.now();
    const entry = {
      key: added.key,
      item: added.item,
      expiresAt: 'expiresAt' in added ? added.expiresAt : now + added.expiresAfterMs,
      attempts: 0,
      // Attempted below; due again only after the retry wait.
      nextAttemptAt: now + this.options.retryMs,
      release,
    };
    this.#outstanding.set(added.key, entry);
    await this.#attempt(entry);
    await released;
  }

  async #attempt(entry: Outstanding<T>): Promise<void> {
    try {
      await this.#attempts.run(() => this.options.attempt(entry));
    } catch (error) {
      // Stays outstanding: the caller's sweep attempts it again.
      this.options.onError(error, entry);
    }
  }
}
