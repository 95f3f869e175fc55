import { bucketOptions, jetStreamForSetup, type BucketPlacement } from '@tunnelkey/eventstore-jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';

/**
 * What an Idempotency-Key was first used for: the request digest kept under the command id the
 * gateway derived from (caller, key). Bounded and expiring: a key is remembered for a day.
 */
export interface IdempotencyStore {
  /**
   * Records `digest` under `commandId` unless something is recorded already; answers what was
   * recorded first (`digest` itself on the first use). Atomic across gateway instances.
   */
  claim(commandId: string, digest: string): Promise<string>;
}

/** How long a key is remembered: a retry within this window is recognised. */
export const idempotencyTtlMs = 24 * 60 * 60 * 1000;

export interface InMemoryIdempotencyOptions {
  /** Most keys kept; the oldest is forgotten first. Default 10,000. */
  maxEntries?: number;
  ttlMs?: number;
  clock?: () => number;
}

/** One process's memory (tests, a single gateway): bounded by count and by age. */
export class InMemoryIdempotencyStore implements IdempotencyStore {
  readonly #entries = new Map<string, { digest: string; at: number }>();
  readonly #max: number;
  readonly #ttl: number;
  readonly #clock: () => number;

  constructor(options: InMemoryIdempotencyOptions = {}) {
    this.#max = options.maxEntries ?? 10_000;
    this.#ttl = options.ttlMs ?? idempotencyTtlMs;
    this.#clock = options.clock ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  async claim(commandId: string, digest: string): Promise<string> {
    const now = this.#clock();
    const known = this.#entries.get(commandId);
    if (known && now - known.at < this.#ttl) return known.digest;
    this.#entries.delete(commandId);
    // Insertion order is age order: the first entries are the oldest.
    for (const [id, entry] of this.#entries) {
      if (this.#entries.size < this.#max && now - entry.at < this.#ttl) break;
      this.#entries.delete(id);
    }
    this.#entries.set(commandId, { digest, at: now });
    return digest;
  }
}

/**
 * Keys in a JetStream KV bucket of the namespace (`<NS>_GATEWAY_IDEMPOTENCY`), shared by every
 * gateway instance: `create` is atomic, entries expire after a day (the bucket's max age) and the
 * bucket is bounded in bytes.
 */
export class KvIdempotencyStore implements IdempotencyStore {
  private constructor(private readonly kv: KV) {}

  static bucketName(namespace = ''): string {
    return namespace ? `${namespace.toUpperCase()}_GATEWAY_IDEMPOTENCY` : 'GATEWAY_IDEMPOTENCY';
  }

  static async open(
    nc: NatsConnection,
    namespace = '',
    options: { ttlMs?: number } & BucketPlacement = {},
  ): Promise<KvIdempotencyStore> {
    const kv = await new Kvm(jetStreamForSetup(nc)).create(KvIdempotencyStore.bucketName(namespace), {
      history: 1,
      ...bucketOptions(options),
      storage: 'file',
      ttl: options.ttlMs ?? idempotencyTtlMs,
      max_bytes: 256 * 1024 * 1024,
    });
    return new KvIdempotencyStore(kv);
  }

  async claim(commandId: string, digest: string): Promise<string> {
    try {
      await this.kv.create(commandId, digest);
      return digest;
    } catch (error) {
      const entry = await this.kv.get(commandId);
      if (entry && entry.operation === 'PUT' && entry.length > 0) return entry.string();
      throw error;
    }
  }
}
