import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { FirmwareDecryptionError, FirmwareFormatError } from '../errors.js';

/**
 * Chunked AES-256-GCM of a firmware image, one content key per rollout.
 *
 * Format `aes-256-gcm-chunked/v1`: the plaintext is cut into chunks of `chunkSize` bytes (the last
 * one shorter); chunk i is sealed on its own with AES-256-GCM under the rollout's content key,
 * nonce = 0x00000000 || uint64be(i), and additional data
 *   "tunnelkey/firmware/chunk/v1" || imageSha256 (32 bytes) || uint32be(i) || uint32be(chunkCount)
 *   || uint64be(plaintextLength),
 * and stored as ciphertext || 16-byte tag. The encrypted object is the chunks back to back, so
 * chunk i starts at i * (chunkSize + 16). Each chunk authenticates by itself: a device verifies as
 * it downloads, keeps every verified chunk, and resumes from the first missing one after a drop;
 * a tampered, reordered, truncated or foreign (other image) chunk fails its tag. Nonces never
 * repeat under a key: the key is fresh per rollout and the index is unique within the image.
 */
export const CHUNK_ENCRYPTION_SCHEME = 'aes-256-gcm-chunked/v1';
export const DEFAULT_CHUNK_SIZE = 64 * 1024;
export const CHUNK_TAG_BYTES = 16;
export const CONTENT_KEY_BYTES = 32;
const maxChunkSize = 1024 * 1024;
const chunkLabel = Buffer.from('tunnelkey/firmware/chunk/v1');

/** How an encrypted image is laid out (sent with the offer; not secret). */
export interface ChunkedEncryptionHeader {
  scheme: typeof CHUNK_ENCRYPTION_SCHEME;
  chunkSize: number;
  chunkCount: number;
  plaintextLength: number;
  /** SHA-256 (hex) of the plaintext image, bound into every chunk. */
  imageSha256: string;
}

export interface EncryptedImage {
  header: ChunkedEncryptionHeader;
  /** All chunks back to back: what goes into the object store, once per rollout. */
  ciphertext: Uint8Array;
}

/** A fresh 256-bit content key (one per rollout, never reused, never in an event or a log). */
export const generateContentKey = (): Uint8Array => new Uint8Array(randomBytes(CONTENT_KEY_BYTES));

/** The header of an image of `plaintextLength` bytes. */
export function encryptionHeader(
  imageSha256: string,
  plaintextLength: number,
  chunkSize = DEFAULT_CHUNK_SIZE,
): ChunkedEncryptionHeader {
  const header: ChunkedEncryptionHeader = {
    scheme: CHUNK_ENCRYPTION_SCHEME,
    chunkSize,
    chunkCount: Math.ceil(plaintextLength / chunkSize),
    plaintextLength,
    imageSha256,
  };
  checkHeader(header);
  return header;
}

/** Throws FirmwareFormatError when a header is not self-consistent (a device checks the one it is sent). */
export function checkHeader(header: ChunkedEncryptionHeader): void {
  const ok =
    header.scheme === CHUNK_ENCRYPTION_SCHEME &&
    Number.isSafeInteger(header.chunkSize) &&
    header.chunkSize >= 1024 &&
    header.chunkSize <= maxChunkSize &&
    Number.isSafeInteger(header.plaintextLength) &&
    header.plaintextLength >= 1 &&
    header.chunkCount === Math.ceil(header.plaintextLength / header.chunkSize) &&
    header.chunkCount <= 0xffff_ffff &&
    /^[0-9a-f]{64}$/.test(header.imageSha256);
  if (!ok) throw new FirmwareFormatError('chunked encryption header is inconsistent', { field: 'header' });
}

/** Plaintext length of chunk `index`. */
export function chunkPlaintextLength(header: ChunkedEncryptionHeader, index: number): number {
  checkHeader(header);
  checkIndex(header, index);
  return index === header.chunkCount - 1 ? header.plaintextLength - index * header.chunkSize : header.chunkSize;
}

/** Where chunk `index` lies in the encrypted object (byte offset, length including its tag). */
export function encryptedChunkRange(
  header: ChunkedEncryptionHeader,
  index: number,
): { offset: number; length: number } {
  return {
    offset: index * (header.chunkSize + CHUNK_TAG_BYTES),
    length: chunkPlaintextLength(header, index) + CHUNK_TAG_BYTES,
  };
}

/** Total size of the encrypted object. */
export const encryptedLength = (header: ChunkedEncryptionHeader): number =>
  header.plaintextLength + header.chunkCount * CHUNK_TAG_BYTES;

function checkIndex(header: ChunkedEncryptionHeader, index: number): void {
  if (!Number.isSafeInteger(index) || index < 0 || index >= header.chunkCount)
    throw new FirmwareFormatError('chunk index out of range', { index, chunkCount: header.chunkCount });
}

function checkKey(contentKey: Uint8Array): void {
  if (contentKey.length !== CONTENT_KEY_BYTES)
    throw new FirmwareFormatError('content key must be 32 bytes', { length: contentKey.length });
}

function nonceOf(index: number): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64BE(BigInt(index), 4);
  return nonce;
}

function aadOf(header: ChunkedEncryptionHeader, index: number): Buffer {
  const tail = Buffer.alloc(16);
  tail.writeUInt32BE(index, 0);
  tail.writeUInt32BE(header.chunkCount, 4);
  tail.writeBigUInt64BE(BigInt(header.plaintextLength), 8);
  return Buffer.concat([chunkLabel, Buffer.from(header.imageSha256, 'hex'), tail]);
}

/** Seals one chunk (the OTA service calls encryptImage; this is for streaming encryption). */
export function encryptChunk(
  contentKey: Uint8Array,
  header: ChunkedEncryptionHeader,
  index: number,
  plaintext: Uint8Array,
): Uint8Array {
  checkKey(contentKey);
  if (plaintext.length !== chunkPlaintextLength(header, index))
    throw new FirmwareFormatError('chunk plaintext has the wrong length', { index, length: plaintext.length });
  const cipher = createCipheriv('aes-256-gcm', contentKey, nonceOf(index));
  cipher.setAAD(aadOf(header, index));
  const out = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** Encrypts a whole image: header plus the chunks back to back. */
export function encryptImage(
  image: Uint8Array,
  imageSha256: string,
  contentKey: Uint8Array,
  chunkSize = DEFAULT_CHUNK_SIZE,
): EncryptedImage {
  const header = encryptionHeader(imageSha256, image.length, chunkSize);
  const ciphertext = new Uint8Array(encryptedLength(header));
  for (let i = 0; i < header.chunkCount; i++) {
    const start = i * chunkSize;
    const sealed = encryptChunk(contentKey, header, i, image.subarray(start, start + chunkPlaintextLength(header, i)));
    ciphertext.set(sealed, encryptedChunkRange(header, i).offset);
  }
  return { header, ciphertext };
}

/** Opens one chunk; throws FirmwareDecryptionError when its tag fails (wrong key, tampered, misplaced). */
export function decryptChunk(
  contentKey: Uint8Array,
  header: ChunkedEncryptionHeader,
  index: number,
  sealed: Uint8Array,
): Uint8Array {
  checkKey(contentKey);
  const expected = encryptedChunkRange(header, index).length;
  if (sealed.length !== expected)
    throw new FirmwareDecryptionError('chunk has the wrong length', { index, length: sealed.length, expected });
  const body = sealed.subarray(0, sealed.length - CHUNK_TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', contentKey, nonceOf(index));
  decipher.setAAD(aadOf(header, index));
  decipher.setAuthTag(sealed.subarray(sealed.length - CHUNK_TAG_BYTES));
  try {
    const out = Buffer.concat([decipher.update(body), decipher.final()]);
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  } catch (error) {
    throw new FirmwareDecryptionError('chunk does not authenticate', { index }, { cause: error });
  }
}
