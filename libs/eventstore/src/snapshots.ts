import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { StoreUnavailableError } from './errors.js';
import type { StreamRef } from './event-store.js';

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

export interface KvSnapshotStoreOptions {
  namespace?: string;
  /** Default `SNAPSHOTS` (prefixed by the namespace: `T1_SNAPSHOTS`). */
  bucket?: string;
}

/** Snapshots in a JetStream KV bucket (file storage, one revision kept per key). */
export class KvSnapshotStore implements SnapshotStore {
  private constructor(private readonly kv: KV) {}

  static bucketName(options: KvSnapshotStoreOptions = {}): string {
    const bucket = options.bucket ?? 'SNAPSHOTS';
    return options.namespace ? `${options.namespace.toUpperCase()}_${bucket}` : bucket;
  }

  /** Opens the bucket, creating it if needed. */
  static async open(nc: NatsConnection, options: KvSnapshotStoreOptions = {}): Promise<KvSnapshotStore> {
    const kv = await new Kvm(nc).create(KvSnapshotStore.bucketName(options), { history: 1, storage: 'file' });
    return new KvSnapshotStore(kv);
  }

  async load<S>(stream: StreamRef): Promise<Snapshot<S> | undefined> {
    try {
      const entry = await this.kv.get(snapshotKey(stream));
      if (!entry || entry.operation !== 'PUT' || entry.length === 0) return undefined;
      return entry.json<Snapshot<S>>();
    } catch (error) {
      throw new StoreUnavailableError('could not load snapshot', { key: snapshotKey(stream) }, { cause: error });
    }
  }

  async save<S>(stream: StreamRef, snapshot: Snapshot<S>): Promise<void> {
    try {
      await this.kv.put(snapshotKey(stream), JSON.stringify(snapshot));
    } catch (error) {
      throw new StoreUnavailableError('could not save snapshot', { key: snapshotKey(stream) }, { cause: error });
    }
  }
}
