import { bucketOptions, jetStreamForSetup, type BucketPlacement } from '@tunnelkey/eventstore-jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { AuthorityUnavailableError } from '../errors.js';
import type { CaKeyStore } from '../ca-key-store-port/ca-key-store.js';

/**
 * CA keys (KEK-wrapped) in a JetStream KV bucket of the namespace (`<NS>_CA_KEYS`). Only the
 * wrapped blob is stored: whoever reads the bucket still needs the KEK. Kept apart from the event
 * log so that a key can be removed (taken offline), which an append-only log cannot do.
 */
export class KvCaKeyStore implements CaKeyStore {
  private constructor(private readonly kv: KV) {}

  static bucketName(namespace = ''): string {
    return namespace ? `${namespace.toUpperCase()}_CA_KEYS` : 'CA_KEYS';
  }

  static async open(nc: NatsConnection, namespace = '', placement: BucketPlacement = {}): Promise<KvCaKeyStore> {
    // history 1: a removed key must not linger in older revisions of the bucket.
    const kv = await new Kvm(jetStreamForSetup(nc)).create(KvCaKeyStore.bucketName(namespace), {
      history: 1,
      storage: 'file',
      ...bucketOptions(placement),
    });
    return new KvCaKeyStore(kv);
  }

  async get(authorityId: string): Promise<Uint8Array | undefined> {
    try {
      const entry = await this.kv.get(authorityId);
      if (!entry || entry.operation !== 'PUT' || entry.length === 0) return undefined;
      return entry.value.slice();
    } catch (error) {
      throw new AuthorityUnavailableError('CA key store cannot be read', { authorityId }, { cause: error });
    }
  }

  async create(authorityId: string, wrapped: Uint8Array): Promise<boolean> {
    try {
      await this.kv.create(authorityId, wrapped);
      return true;
    } catch (error) {
      // create fails when the key exists; anything else is an outage.
      if ((await this.get(authorityId)) !== undefined) return false;
      throw new AuthorityUnavailableError('CA key store cannot be written', { authorityId }, { cause: error });
    }
  }

  async put(authorityId: string, wrapped: Uint8Array): Promise<void> {
    await this.kv.put(authorityId, wrapped);
  }

  async remove(authorityId: string): Promise<void> {
    // purge, not delete: no earlier revision (the wrapped key) stays in the bucket.
    await this.kv.purge(authorityId);
  }
}
