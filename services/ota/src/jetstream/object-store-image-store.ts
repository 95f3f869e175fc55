import { jetStreamForSetup, type BucketPlacement } from '@tunnelkey/eventstore-jetstream';
/** The ImageStore on a JetStream object store of the namespace (`<NS>_OTA_IMAGES`): images arrive and leave in chunks. */
import { Objm, type ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { firmwareImageBucket } from '@tunnelkey/contracts';
import { ImageStoreUnavailableError } from '../errors.js';
import type { ImageStore, StoredImage } from '../image-store-port/image-store.js';

/** Object-store chunk size: 128 KiB keeps a 64 MiB image to 512 messages. */
const objectChunkBytes = 128 * 1024;

export class ObjectStoreImageStore implements ImageStore {
  private constructor(readonly store: ObjectStore) {}

  static bucketName(namespace = ''): string {
    return firmwareImageBucket(namespace);
  }

  static async open(
    nc: NatsConnection,
    namespace = '',
    placement: BucketPlacement = {},
  ): Promise<ObjectStoreImageStore> {
    const bucket = ObjectStoreImageStore.bucketName(namespace);
    return new ObjectStoreImageStore(
      await new Objm(jetStreamForSetup(nc)).create(bucket, { storage: 'file', replicas: placement.replicas ?? 1 }),
    );
  }

  async put(name: string, bytes: Uint8Array): Promise<void> {
    try {
      await this.store.putBlob({ name, options: { max_chunk_size: objectChunkBytes } }, bytes);
    } catch (error) {
      throw new ImageStoreUnavailableError('image store cannot be written', { name }, { cause: error });
    }
  }

  async get(name: string, maxBytes: number): Promise<StoredImage | undefined> {
    try {
      const info = await this.store.info(name);
      if (!info || info.deleted) return undefined;
      if (info.size > maxBytes) return { tooLarge: true, size: info.size };
      const bytes = await this.store.getBlob(name);
      return bytes ? { tooLarge: false, bytes } : undefined;
    } catch (error) {
      throw new ImageStoreUnavailableError('image store cannot be read', { name }, { cause: error });
    }
  }

  async delete(name: string): Promise<void> {
    try {
      await this.store.delete(name);
    } catch (error) {
      throw new ImageStoreUnavailableError('image store object cannot be deleted', { name }, { cause: error });
    }
  }
}
