import { jetStreamForSetup, type BucketPlacement } from '@tunnelkey/eventstore-jetstream';
/** The CrlStore on a JetStream object store of the namespace (`<NS>_CA_CRLS`). */
import { Objm, type ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { crlObjectName, type CrlStore } from '../crl-store-port/crl-store.js';
import { AuthorityUnavailableError } from '../errors.js';

export class ObjectStoreCrlStore implements CrlStore {
  private constructor(private readonly store: ObjectStore) {}

  static bucketName(namespace = ''): string {
    return namespace ? `${namespace.toUpperCase()}_CA_CRLS` : 'CA_CRLS';
  }

  static async open(nc: NatsConnection, namespace = '', placement: BucketPlacement = {}): Promise<ObjectStoreCrlStore> {
    return new ObjectStoreCrlStore(
      await new Objm(jetStreamForSetup(nc)).create(ObjectStoreCrlStore.bucketName(namespace), {
        storage: 'file',
        replicas: placement.replicas ?? 1,
      }),
    );
  }

  async put(authorityId: string, digest: string, der: Uint8Array): Promise<void> {
    try {
      await this.store.putBlob({ name: crlObjectName(authorityId, digest) }, der);
    } catch (error) {
      throw new AuthorityUnavailableError('CRL store cannot be written', { authorityId }, { cause: error });
    }
  }

  async get(authorityId: string, digest: string): Promise<Uint8Array | undefined> {
    try {
      return (await this.store.getBlob(crlObjectName(authorityId, digest))) ?? undefined;
    } catch (error) {
      throw new AuthorityUnavailableError('CRL store cannot be read', { authorityId }, { cause: error });
    }
  }
}
