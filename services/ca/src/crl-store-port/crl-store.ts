/**
 * Where the CA keeps the CRLs it signed: a JetStream object store of the namespace
 * (`<NS>_CA_CRLS`), named by authority and SHA-256. Content-addressed, so two instances racing on
 * one CRL number can never overwrite the bytes the winning CrlPublished names. The event carries
 * only the URL and digest: a CRL grows by ~40 bytes per revoked certificate and every version
 * would stay in the replayed log forever (and the public event has no field for the bytes).
 */
import { Objm, type ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { AuthorityUnavailableError } from '../errors.js';

export interface CrlStore {
  put(authorityId: string, digest: string, der: Uint8Array): Promise<void>;
  get(authorityId: string, digest: string): Promise<Uint8Array | undefined>;
}

const objectName = (authorityId: string, digest: string) => `${authorityId}/${digest}.crl`;

export class ObjectStoreCrlStore implements CrlStore {
  private constructor(private readonly store: ObjectStore) {}

  static bucketName(namespace = ''): string {
    return namespace ? `${namespace.toUpperCase()}_CA_CRLS` : 'CA_CRLS';
  }

  static async open(nc: NatsConnection, namespace = ''): Promise<ObjectStoreCrlStore> {
    return new ObjectStoreCrlStore(await new Objm(nc).create(ObjectStoreCrlStore.bucketName(namespace), { storage: 'file' }));
  }

  async put(authorityId: string, digest: string, der: Uint8Array): Promise<void> {
    try {
      await this.store.putBlob({ name: objectName(authorityId, digest) }, der);
    } catch (error) {
      throw new AuthorityUnavailableError('CRL store cannot be written', { authorityId }, { cause: error });
    }
  }

  async get(authorityId: string, digest: string): Promise<Uint8Array | undefined> {
    try {
      return (await this.store.getBlob(objectName(authorityId, digest))) ?? undefined;
    } catch (error) {
      throw new AuthorityUnavailableError('CRL store cannot be read', { authorityId }, { cause: error });
    }
  }
}

/** For unit tests and the embedded mode. */
export class InMemoryCrlStore implements CrlStore {
  readonly #crls = new Map<string, Uint8Array>();
  async put(authorityId: string, digest: string, der: Uint8Array): Promise<void> {
    this.#crls.set(objectName(authorityId, digest), der.slice());
  }
  async get(authorityId: string, digest: string): Promise<Uint8Array | undefined> {
    return this.#crls.get(objectName(authorityId, digest));
  }
}
