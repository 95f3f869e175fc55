/**
 * Each rollout's encrypted image: encrypted once, at StartRollout, under the rollout's content key
 * (derived under the KEK from the rollout id: fresh per rollout, never stored, re-derived after a
 * restart), and stored in the image store as `rollout-<rolloutId>`. Devices fetch it chunk by
 * chunk; this instance keeps the rollouts it serves in memory, each chunk as the binary frame every
 * device of the rollout is sent (built once per rollout and chunk, not per device): the store is
 * read once per rollout and instance, not once per device.
 */
import { Inject, Injectable } from '@nestjs/common';
import { encodeFirmwareChunkFrame } from '@tunnelkey/contracts';
import { encryptImage, encryptedChunkRange, encryptionHeader, type ChunkedEncryptionHeader } from '@tunnelkey/firmware';
import type { Kek } from '@tunnelkey/pki';
import { encryptedImageName, type ImageStore } from '../image-store-port/image-store.js';
import { ImageStoreUnavailableError } from '../errors.js';
import { rolloutContentKey } from '../signing-keys/kek-secrets.js';
import { IMAGE_STORE, OTA_KEK } from '../tokens.js';

export interface RolloutContent {
  contentKey: Uint8Array;
  header: ChunkedEncryptionHeader;
  ciphertext: Uint8Array;
  /** Chunk frames built so far, by index. */
  frames: Uint8Array[];
}

export interface ContentSpec {
  rolloutId: string;
  imageDigest: string;
  sizeBytes: number;
  chunkSize: number;
}

/** Rollouts served at once from memory; older ones are read again from the store when asked. */
const maxCached = 8;

@Injectable()
export class RolloutContents {
  readonly #cache = new Map<string, Promise<RolloutContent>>();

  constructor(
    @Inject(IMAGE_STORE) private readonly images: ImageStore,
    @Inject(OTA_KEK) private readonly kek: Kek,
  ) {}

  /** Encrypts the image for the rollout and stores the result (StartRollout; again on a retried command). */
  async prepare(spec: ContentSpec, image: Uint8Array): Promise<RolloutContent> {
    const contentKey = await rolloutContentKey(this.kek, spec.rolloutId);
    const { header, ciphertext } = encryptImage(image, spec.imageDigest, contentKey, spec.chunkSize);
    await this.images.put(encryptedImageName(spec.rolloutId), ciphertext);
    const content = { contentKey, header, ciphertext, frames: [] };
    this.#remember(spec.rolloutId, Promise.resolve(content));
    return content;
  }

  /** The rollout's content, from memory or the store. */
  get(spec: ContentSpec): Promise<RolloutContent> {
    const cached = this.#cache.get(spec.rolloutId);
    if (cached) return cached;
    const loading = this.#load(spec);
    loading.catch(() => this.#cache.delete(spec.rolloutId));
    this.#remember(spec.rolloutId, loading);
    return loading;
  }

  /** Encrypted chunk `index` (with its tag), as the device asks for it. */
  async chunk(spec: ContentSpec, index: number): Promise<Uint8Array> {
    const { header, ciphertext } = await this.get(spec);
    const { offset, length } = encryptedChunkRange(header, index);
    return ciphertext.subarray(offset, offset + length);
  }

  /** Chunk `index` as the frame a device is sent (firmware-chunk-frame.ts). */
  async frame(spec: ContentSpec, index: number): Promise<Uint8Array> {
    const content = await this.get(spec);
    content.frames[index] ??= encodeFirmwareChunkFrame({
      rolloutId: spec.rolloutId,
      index,
      sealed: await this.chunk(spec, index),
    });
    return content.frames[index];
  }

  async #load(spec: ContentSpec): Promise<RolloutContent> {
    const header = encryptionHeader(spec.imageDigest, spec.sizeBytes, spec.chunkSize);
    const stored = await this.images.get(encryptedImageName(spec.rolloutId), Number.MAX_SAFE_INTEGER);
    if (!stored || stored.tooLarge)
      throw new ImageStoreUnavailableError('the rollout image is not in the store', { rolloutId: spec.rolloutId });
    const contentKey = await rolloutContentKey(this.kek, spec.rolloutId);
    return { contentKey, header, ciphertext: stored.bytes, frames: [] };
  }

  #remember(rolloutId: string, content: Promise<RolloutContent>): void {
    this.#cache.delete(rolloutId);
    if (this.#cache.size >= maxCached) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(rolloutId, content);
  }
}
