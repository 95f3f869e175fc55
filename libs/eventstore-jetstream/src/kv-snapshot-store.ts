import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { bucketOptions, jetStreamForSetup } from './jetstream-setup.js';
import {
  snapshotKey,
  StoreUnavailableError,
  type Snapshot,
  type SnapshotStore,
  type StreamRef,
} from '@tunnelkey/eventstore';

export interface KvSnapshotStoreOptions {
  namespace?: string;
  /** Default `SNAPSHOTS` (prefixed by the namespace: `T1_SNAPSHOTS`). */
  bucket?: string;
  /** Replicas of the bucket when it is created (a JetStream cluster: 3). Default 1. */
  replicas?: number;
}

/** How the snapshots bucket is created: file storage, one revision per key, on `replicas` nodes. */
export const snapshotBucketConfig = (options: KvSnapshotStoreOptions) =>
  ({ history: 1, storage: 'file', ...bucketOptions(options) }) as const;

/** Snapshots in a JetStream KV bucket (file storage, one revision kept per key). */
export class KvSnapshotStore implements SnapshotStore {
  private constructor(private readonly kv: KV) {}

  static bucketName(options: KvSnapshotStoreOptions = {}): string {
    const bucket = options.bucket ?? 'SNAPSHOTS';
    return options.namespace ? `${options.namespace.toUpperCase()}_${bucket}` : bucket;
  }

  /** Opens the bucket, creating it if needed. */
  static async open(nc: NatsConnection, options: KvSnapshotStoreOptions = {}): Promise<KvSnapshotStore> {
    const kv = await new Kvm(jetStreamForSetup(nc)).create(
      KvSnapshotStore.bucketName(options),
      snapshotBucketConfig(options),
    );
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
