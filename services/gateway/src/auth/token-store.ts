import { bucketOptions, jetStreamForSetup, type BucketPlacement } from '@tunnelkey/eventstore-jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { TokenRecord } from './api-token.js';

/** Where token records (digests, never tokens) are kept. */
export interface TokenStore {
  get(id: string): Promise<TokenRecord | undefined>;
  /** False when a record with this id exists already. */
  create(record: TokenRecord): Promise<boolean>;
  put(record: TokenRecord): Promise<void>;
  list(): Promise<TokenRecord[]>;
}

export class InMemoryTokenStore implements TokenStore {
  readonly #records = new Map<string, TokenRecord>();
  async get(id: string) {
    return this.#records.get(id);
  }
  async create(record: TokenRecord) {
    if (this.#records.has(record.id)) return false;
    this.#records.set(record.id, record);
    return true;
  }
  async put(record: TokenRecord) {
    this.#records.set(record.id, record);
  }
  async list() {
    return [...this.#records.values()];
  }
}

/**
 * Token records in a JetStream KV bucket of the namespace (`<NS>_GATEWAY_TOKENS`), shared by every
 * gateway instance. A record read is kept `recordTtlMs` (1 s): every request is authenticated, and a
 * bucket read per request is a round trip to the server on every read route (bench:api). So a token
 * revoked on another instance is refused here within that second; on this one at once (its own
 * writes replace what it kept).
 */
export class KvTokenStore implements TokenStore {
  readonly #kept = new Map<string, { record: TokenRecord | undefined; until: number }>();

  private constructor(
    private readonly kv: KV,
    private readonly recordTtlMs: number,
    private readonly clock: () => number,
  ) {}

  static bucketName(namespace = ''): string {
    return namespace ? `${namespace.toUpperCase()}_GATEWAY_TOKENS` : 'GATEWAY_TOKENS';
  }

  static async open(
    nc: NatsConnection,
    namespace = '',
    options: { recordTtlMs?: number; clock?: () => number } & BucketPlacement = {},
  ): Promise<KvTokenStore> {
    return new KvTokenStore(
      await new Kvm(jetStreamForSetup(nc)).create(KvTokenStore.bucketName(namespace), {
        history: 1,
        storage: 'file',
        ...bucketOptions(options),
      }),
      options.recordTtlMs ?? 1_000,
      options.clock ?? Date.now,
    );
  }

  async get(id: string): Promise<TokenRecord | undefined> {
    const kept = this.#kept.get(id);
    if (kept && kept.until > this.clock()) return kept.record;
    const record = await this.#read(id);
    // Bounded: ids come from callers, valid or not.
    if (this.#kept.size >= 10_000) this.#kept.clear();
    this.#kept.set(id, { record, until: this.clock() + this.recordTtlMs });
    return record;
  }

  async #read(id: string): Promise<TokenRecord | undefined> {
    const entry = await this.kv.get(id);
    if (!entry || entry.operation !== 'PUT' || entry.length === 0) return undefined;
    return entry.json<TokenRecord>();
  }

  async create(record: TokenRecord): Promise<boolean> {
    this.#kept.delete(record.id);
    try {
      await this.kv.create(record.id, JSON.stringify(record));
      return true;
    } catch (error) {
      if ((await this.#read(record.id)) !== undefined) return false;
      throw error;
    }
  }

  async put(record: TokenRecord): Promise<void> {
    this.#kept.delete(record.id);
    await this.kv.put(record.id, JSON.stringify(record));
    this.#kept.delete(record.id);
  }

  async list(): Promise<TokenRecord[]> {
    const records: TokenRecord[] = [];
    for await (const key of await this.kv.keys()) {
      const record = await this.#read(key);
      if (record) records.push(record);
    }
    return records;
  }
}
