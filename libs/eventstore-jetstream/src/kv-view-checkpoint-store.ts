import type { NatsConnection } from '@nats-io/transport-node';
import { randomBytes } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { StoreUnavailableError, type ViewCheckpointStore } from '@tunnelkey/eventstore';
import { KvSnapshotStore, snapshotBucketConfig, type KvSnapshotStoreOptions } from './kv-snapshot-store.js';

const checkpointPutTimeoutMs = 30_000;

interface Head {
  /** Generation of the chunks: `<key>.c.<generation>.<i>`. */
  generation: string;
  chunks: number;
  bytes: number;
}

/**
 * View checkpoints in the snapshots KV bucket, under `<owner>.view.<name>` (so each service's
 * NATS user, allowed `$KV.SNAPSHOTS.<its context>.>`, writes only its own). A checkpoint larger than
 * a message is cut into chunks written under a fresh generation before the head that names them,
 * then the previous generation's chunks are deleted: a reader sees the old checkpoint or the new
 * one, never a mix. Saves of one store run one at a time.
 */
export class KvViewCheckpointStore implements ViewCheckpointStore {
  #queue: Promise<unknown> = Promise.resolve();

  /**
   * Opens the snapshots bucket (`<NS>_SNAPSHOTS`), creating it if needed. Each chunk put waits up
   * to 30 s for its acknowledgement (nats.js's default is 5 s): a checkpoint is megabytes written
   * while the service is busiest, and under load (bench:restart at 100,000 devices, load average
   * 8-12) 5 s was not enough, so the saves failed and the next start replayed the whole log.
   */
  static async open(nc: NatsConnection, options: KvSnapshotStoreOptions = {}): Promise<KvViewCheckpointStore> {
    const kv = await new Kvm(jetstream(nc, { timeout: checkpointPutTimeoutMs })).create(
      KvSnapshotStore.bucketName(options),
      snapshotBucketConfig(options),
    );
    return new KvViewCheckpointStore(kv, nc);
  }

  constructor(
    private readonly kv: KV,
    nc: NatsConnection,
    private readonly chunkBytes = Math.max(1024, (nc.info?.max_payload ?? 1024 * 1024) - 4096),
  ) {}

  async load(key: string): Promise<Uint8Array | undefined> {
    try {
      const head = await this.#head(key);
      if (!head) return undefined;
      const data = new Uint8Array(head.bytes);
      let offset = 0;
      for (let i = 0; i < head.chunks; i++) {
        const entry = await this.kv.get(`${key}.c.${head.generation}.${i}`);
        if (!entry || entry.operation !== 'PUT') return undefined;
        data.set(entry.value, offset);
        offset += entry.value.byteLength;
      }
      return offset === head.bytes ? data : undefined;
    } catch (error) {
      throw new StoreUnavailableError('could not load view checkpoint', { key }, { cause: error });
    }
  }

  save(key: string, data: Uint8Array): Promise<void> {
    const saving = this.#queue.then(() => this.#save(key, data));
    this.#queue = saving.catch(() => undefined);
    return saving;
  }

  async #save(key: string, data: Uint8Array): Promise<void> {
    try {
      const previous = await this.#head(key);
      const head: Head = { generation: randomBytes(8).toString('hex'), chunks: 0, bytes: data.byteLength };
      for (let offset = 0; offset < data.byteLength || head.chunks === 0; offset += this.chunkBytes) {
        await this.kv.put(
          `${key}.c.${head.generation}.${head.chunks++}`,
          data.subarray(offset, offset + this.chunkBytes),
        );
      }
      await this.kv.put(key, JSON.stringify(head));
      if (previous)
        for (let i = 0; i < previous.chunks; i++) await this.kv.purge(`${key}.c.${previous.generation}.${i}`);
    } catch (error) {
      throw new StoreUnavailableError('could not save view checkpoint', { key }, { cause: error });
    }
  }

  async #head(key: string): Promise<Head | undefined> {
    const entry = await this.kv.get(key);
    if (!entry || entry.operation !== 'PUT' || entry.length === 0) return undefined;
    return entry.json<Head>();
  }
}
