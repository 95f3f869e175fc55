import { snapshotKey } from './snapshots.js';
import type { StreamRef } from './event-store.js';

/** An aggregate's state as handleCommand last loaded or wrote it. */
export interface CachedState<S> {
  state: S;
  version: number;
  /** Commands that caused the newest events folded into `state` (at most `recentCommands`): a retry of one is answered from the log. */
  recentCommandIds: string[];
  /** Events folded since the last snapshot (handleCommand's snapshot policy counts on). */
  foldedSinceSnapshot: number;
}

export interface AggregateStateCacheOptions {
  /** Streams kept; the least recently used one goes first. Default 10,000. */
  maxStreams?: number;
  /** Command ids kept per stream for the retried-command check. Default 8. */
  recentCommands?: number;
}

/**
 * A write-through cache of aggregate states for handleCommand, for hot aggregates one process keeps
 * writing (a device's connection and telemetry records): the command is decided on the cached
 * state and appended with the cached version, so the read (one round trip per event on JetStream)
 * is skipped.
 *
 * Never wrong, only sometimes stale: an append decided on a stale state fails its expected-version
 * check (another writer got in), the entry is dropped and the command decided again on a fresh
 * load; a command that a cached state refuses, or that changes nothing, is decided again on a fresh
 * load too before handleCommand answers. A command retried after its events were written is
 * recognised by the entry's recent command ids (and then answered from the log), or else by the
 * store's dedup window.
 *
 * Memory: about 1.7 KiB per entry for a device-sized state with 8 command ids (measured for onboarding's
 * device aggregate).
 *
 * One cache per decider (the state type): entries are keyed by stream only.
 */
export class AggregateStateCache<S> {
  readonly #entries = new Map<string, CachedState<S>>();
  readonly #maxStreams: number;
  readonly recentCommands: number;

  constructor(options: AggregateStateCacheOptions = {}) {
    this.#maxStreams = Math.max(1, options.maxStreams ?? 10_000);
    this.recentCommands = Math.max(1, options.recentCommands ?? 8);
  }

  get size(): number {
    return this.#entries.size;
  }

  get(stream: StreamRef): CachedState<S> | undefined {
    const key = snapshotKey(stream);
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    // Map order is insertion order: re-inserting makes it the most recently used.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry;
  }

  set(stream: StreamRef, entry: CachedState<S>): void {
    const key = snapshotKey(stream);
    this.#entries.delete(key);
    this.#entries.set(key, {
      ...entry,
      recentCommandIds: [...new Set(entry.recentCommandIds)].slice(-this.recentCommands),
    });
    while (this.#entries.size > this.#maxStreams) this.#entries.delete(this.#entries.keys().next().value!);
  }

  delete(stream: StreamRef): void {
    this.#entries.delete(snapshotKey(stream));
  }

  /**
   * For a stream this cache holds nothing of, guesses it is empty (`initialState` at version 0),
   * so the first command on it is decided and appended without a read. Right for streams that are
   * nearly always new when first written (a device's first certificate); a wrong guess costs one
   * append refused by its expected version, then the usual fresh load.
   */
  assumeNew(stream: StreamRef, initialState: () => S): this {
    if (!this.#entries.has(snapshotKey(stream)))
      this.set(stream, { state: initialState(), version: 0, recentCommandIds: [], foldedSinceSnapshot: 0 });
    return this;
  }
}
