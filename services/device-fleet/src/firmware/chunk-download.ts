import { createHash, type Hash } from 'node:crypto';
import { decryptChunk, isFirmwareDecryptionError, type ChunkedEncryptionHeader } from '@tunnelkey/firmware';

export interface ChunkDownloadOptions {
  /** Chunks in flight at once (default 8). */
  window?: number;
  /** Deliveries of one chunk that may fail their tag before the download gives up (default 3). */
  maxAttempts?: number;
}

export type ChunkReceipt =
  /** Verified (and, once in order, written to the slot). */
  | { kind: 'verified' }
  /** Not asked for, already verified, or outside the image: dropped without a look. */
  | { kind: 'ignored' }
  /** Its tag failed: ask again (`retry`), or give up when it failed too often. */
  | { kind: 'tampered'; retry: boolean };

/**
 * One encrypted image coming into the inactive slot, chunk by chunk. Each chunk is verified on
 * arrival (its AES-GCM tag under the content key) and written in order; the slot's SHA-256 is
 * hashed as it is written, so the image is never held whole. The download remembers its first
 * unverified chunk: after a drop or an offline period it asks again from there, never from zero.
 * It asks in batches: the window is refilled once half of it has arrived, so the device signs one
 * request per half window (the platform answers each with that many chunks), not one per chunk.
 */
export class ChunkDownload {
  readonly header: ChunkedEncryptionHeader;
  readonly #contentKey: Uint8Array;
  readonly #window: number;
  readonly #maxAttempts: number;
  readonly #hash: Hash = createHash('sha256');
  /** First chunk not yet written: everything before it is verified and hashed. */
  #next = 0;
  #written = 0;
  /** Verified but ahead of #next (arrived out of order). */
  readonly #ahead = new Map<number, Uint8Array>();
  readonly #inFlight = new Set<number>();
  readonly #failures = new Map<number, number>();

  constructor(header: ChunkedEncryptionHeader, contentKey: Uint8Array, options: ChunkDownloadOptions = {}) {
    this.header = header;
    this.#contentKey = contentKey;
    this.#window = options.window ?? 8;
    this.#maxAttempts = options.maxAttempts ?? 3;
  }

  /** Chunks verified and written, in order. */
  get verifiedChunks(): number {
    return this.#next;
  }

  get complete(): boolean {
    return this.#next === this.header.chunkCount;
  }

  /** Chunks to ask for now (marked in flight): the first missing ones, up to the window, once half of it is free. */
  toRequest(): number[] {
    const wanted: number[] = [];
    if (this.#inFlight.size > this.#window / 2) return wanted;
    for (let i = this.#next; i < this.header.chunkCount && this.#inFlight.size < this.#window; i++) {
      if (this.#inFlight.has(i) || this.#ahead.has(i)) continue;
      this.#inFlight.add(i);
      wanted.push(i);
    }
    return wanted;
  }

  /** After a stall (lost messages, an offline period): forget what was in flight, ask again from the first missing chunk. */
  resume(): number[] {
    this.#inFlight.clear();
    return this.toRequest();
  }

  receive(index: number, sealed: Uint8Array): ChunkReceipt {
    if (!Number.isSafeInteger(index) || index < this.#next || index >= this.header.chunkCount || this.#ahead.has(index))
      return { kind: 'ignored' };
    let plaintext: Uint8Array;
    try {
      plaintext = decryptChunk(this.#contentKey, this.header, index, sealed);
    } catch (error) {
      if (!isFirmwareDecryptionError(error)) throw error;
      this.#inFlight.delete(index);
      const failures = (this.#failures.get(index) ?? 0) + 1;
      this.#failures.set(index, failures);
      return { kind: 'tampered', retry: failures < this.#maxAttempts };
    }
    this.#inFlight.delete(index);
    this.#ahead.set(index, plaintext);
    for (let chunk = this.#ahead.get(this.#next); chunk; chunk = this.#ahead.get(this.#next)) {
      this.#ahead.delete(this.#next);
      this.#hash.update(chunk);
      this.#written += chunk.length;
      this.#next++;
    }
    return { kind: 'verified' };
  }

  /** The slot's measurement and length once complete. */
  result(): { sha256: string; length: number } {
    return { sha256: this.#hash.copy().digest('hex'), length: this.#written };
  }

  /** Wipes the content key (the download is over, whatever its outcome). */
  dispose(): void {
    this.#contentKey.fill(0);
    this.#ahead.clear();
  }
}
