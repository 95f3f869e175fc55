/**
 * Where firmware bytes live: the uploaded images (named by the uploader, e.g. the gateway's upload
 * id) and each rollout's encrypted image (`rollout-<rolloutId>`). Never in an event. The JetStream
 * object store in production (`OTA_IMAGES`), a Map in slice tests.
 */
export interface ImageStore {
  /** Stores the bytes under `name` (replacing what was there). */
  put(name: string, bytes: Uint8Array): Promise<void>;
  /** The bytes under `name`, or undefined; reading stops past `maxBytes` (undefined then too, with `tooLarge`). */
  get(name: string, maxBytes: number): Promise<StoredImage | undefined>;
  delete(name: string): Promise<void>;
}

export type StoredImage = { tooLarge: false; bytes: Uint8Array } | { tooLarge: true; size: number };

/** The name of a rollout's encrypted image. */
export const encryptedImageName = (rolloutId: string): string => `rollout-${rolloutId}`;

export class InMemoryImageStore implements ImageStore {
  readonly objects = new Map<string, Uint8Array>();

  put(name: string, bytes: Uint8Array): Promise<void> {
    this.objects.set(name, bytes.slice());
    return Promise.resolve();
  }

  get(name: string, maxBytes: number): Promise<StoredImage | undefined> {
    const bytes = this.objects.get(name);
    if (!bytes) return Promise.resolve(undefined);
    return Promise.resolve(
      bytes.length > maxBytes ? { tooLarge: true, size: bytes.length } : { tooLarge: false, bytes: bytes.slice() },
    );
  }

  delete(name: string): Promise<void> {
    this.objects.delete(name);
    return Promise.resolve();
  }
}
