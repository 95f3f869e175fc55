import type { EventEnvelope } from '@tunnelkey/contracts';
import { snapshotKey } from './snapshots.js';
import type { StreamRef } from './event-store.js';

/** An aggregate's state as handleCommand last loaded or wrote it. */
export interface CachedState<S> {
  state: S;
  version: number;
  /** The newest events folded into `state` (at most `recentEvents`): a retried command is found among them. */
  recent: EventEnvelope[];
  /** Events folded since the last snapshot (handleCommand's snapshot policy counts on). */
  foldedSinceSnapshot: number;
}

export interface AggregateStateCacheOptions {
  /** Streams kept; the least recently used one goes first. Default 10,000. */
  maxStreams?: number;
  /** Events kept per stream for the retried-command check. Default 16. */
  recentEvents?: number;
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
 * load too before handleCommand answers. A command retried after its events were written is found
 * among the entry's recent events, or else by the store's dedup window.
 *
 * One cache per decider (the state type): entries are keyed by stream only.
 */
export class AggregateStateCache<S> {
  readonly #entries = new Map<string, CachedState<S>>();
  readonly #maxStreams: number;
  readonly recentEvents: number;

  constructor(options: AggregateStateCacheOptions = {}) {
    this.#maxStreams = Math.max(1, options.maxStreams ?? 10_000);
    this.recentEvents = Math.max(1, options.recentEvents ?? 16);
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
    this.#entries.set(key, { ...entry, recent: entry.recent.slice(-this.recentEvents) });
    while (this.#entries.size > this.#maxStreams) this.#entries.delete(this.#entries.keys().next().value!);
  }

  delete(stream: StreamRef): void {
    this.#entries.delete(snapshotKey(stream));
  }
}
