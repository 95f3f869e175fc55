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

/** Token records in a JetStream KV bucket of the namespace (`<NS>_GATEWAY_TOKENS`), shared by every gateway instance. */
export class KvTokenStore implements TokenStore {
  private constructor(private readonly kv: KV) {}

  static bucketName(namespace = ''): string {
    return namespace ? `${namespace.toUpperCase()}_GATEWAY_TOKENS` : 'GATEWAY_TOKENS';
  }

  static async open(nc: NatsConnection, namespace = ''): Promise<KvTokenStore> {
    return new KvTokenStore(
      await new Kvm(nc).create(KvTokenStore.bucketName(namespace), { history: 1, storage: 'file' }),
    );
  }

  async get(id: string): Promise<TokenRecord | undefined> {
    const entry = await this.kv.get(id);
    if (!entry || entry.operation !== 'PUT' || entry.length === 0) return undefined;
    return entry.json<TokenRecord>();
  }

  async create(record: TokenRecord): Promise<boolean> {
    try {
      await this.kv.create(record.id, JSON.stringify(record));
      return true;
    } catch (error) {
      if ((await this.get(record.id)) !== undefined) return false;
      throw error;
    }
  }

  async put(record: TokenRecord): Promise<void> {
    await this.kv.put(record.id, JSON.stringify(record));
  }

  async list(): Promise<TokenRecord[]> {
    const records: TokenRecord[] = [];
    for await (const key of await this.kv.keys()) {
      const record = await this.get(key);
      if (record) records.push(record);
    }
    return records;
  }
}
