import type { StreamRef } from './stream-ref.js';

/** A decider's state folded up to `version` (the stream's version when it was taken). */
export interface Snapshot<S = unknown> {
  state: S;
  version: number;
  /** The SnapshotPolicy revision it was taken under; others are ignored. */
  revision?: number;
}

/** Snapshots per stream. States must survive JSON (plain objects, arrays, strings, numbers, booleans). */
export interface SnapshotStore {
  load<S>(stream: StreamRef): Promise<Snapshot<S> | undefined>;
  save<S>(stream: StreamRef, snapshot: Snapshot<S>): Promise<void>;
}

/** How handleCommand uses snapshots: take a new one once `every` events were folded past the last. */
export interface SnapshotPolicy {
  store: SnapshotStore;
  /** Default 50. */
  every?: number;
  /**
   * Identifies the state's shape; bump it when `evolve` or the state changes and old snapshots
   * are ignored (and replaced) instead of being trusted. Default 1.
   */
  revision?: number;
}

/** Snapshot key of a stream: `<context>.<aggregate>.<id>`; ids are subject-safe, so KV-safe too. */
export function snapshotKey(stream: StreamRef): string {
  return `${stream.context}.${stream.aggregate}.${stream.id}`;
}

export class InMemorySnapshotStore implements SnapshotStore {
  readonly #snapshots = new Map<string, string>();

  async load<S>(stream: StreamRef): Promise<Snapshot<S> | undefined> {
    const json = this.#snapshots.get(snapshotKey(stream));
    return json === undefined ? undefined : (JSON.parse(json) as Snapshot<S>);
  }

  async save<S>(stream: StreamRef, snapshot: Snapshot<S>): Promise<void> {
    this.#snapshots.set(snapshotKey(stream), JSON.stringify(snapshot));
  }
}
