/**
 * One encrypted chunk of an offered image, platform -> device, as a binary frame on the device's
 * inbox (`dev.<deviceId>.inbox.firmware-chunk`), NOT in a signed envelope:
 *
 *   "TKFC" | version (1 byte, 1) | rolloutId length (1 byte) | rolloutId (ASCII)
 *   | chunk index (uint32 big-endian) | sealed chunk (AES-256-GCM ciphertext || 16-byte tag)
 *
 * Why no signature: the chunk authenticates itself. Its GCM tag is under the rollout's content key,
 * which reached the device wrapped for it alone inside a platform-signed offer, and the tag's
 * additional data binds the image digest (from the dual-signed targets metadata) and the index; the
 * image assembled from the chunks is then checked against that signed digest before the device
 * switches slots. A forged or replayed frame fails its tag (or, from another device holding the
 * same rollout's key, the digest): it costs a re-ask, never an install. The argument in full, with
 * what it does not cover: docs/security.md ("Firmware chunks are not signed").
 *
 * The frame is the same for every device of a rollout (no device id inside), so the platform builds
 * it once per rollout and chunk and publishes it to each device as is.
 */
import { isAggregateId } from '../contexts.js';
import { ContractViolation } from '../errors.js';
import { deviceInboxSubject } from './subjects.js';

export const firmwareChunkFrameKind = 'firmware-chunk';
const magic = [0x54, 0x4b, 0x46, 0x43]; // "TKFC"
const frameVersion = 1;
const fixedBytes = magic.length + 1 + 1 + 4;

export interface FirmwareChunkFrame {
  rolloutId: string;
  index: number;
  /** AES-256-GCM ciphertext || tag, as stored in the rollout's encrypted image. */
  sealed: Uint8Array;
}

/** `dev.<deviceId>.inbox.firmware-chunk`. */
export const firmwareChunkFrameSubject = (deviceId: string, namespace = ''): string =>
  deviceInboxSubject(deviceId, firmwareChunkFrameKind, namespace);

export function encodeFirmwareChunkFrame(frame: FirmwareChunkFrame): Uint8Array {
  const id = Buffer.from(frame.rolloutId, 'ascii');
  if (!isAggregateId(frame.rolloutId) || id.length > 255)
    throw new ContractViolation('firmware chunk frame: rollout id is not an aggregate id');
  if (!Number.isSafeInteger(frame.index) || frame.index < 0 || frame.index > 0xffff_ffff)
    throw new ContractViolation('firmware chunk frame: index out of range');
  const out = new Uint8Array(fixedBytes + id.length + frame.sealed.length);
  out.set(magic, 0);
  out[4] = frameVersion;
  out[5] = id.length;
  out.set(id, 6);
  new DataView(out.buffer).setUint32(6 + id.length, frame.index);
  out.set(frame.sealed, fixedBytes + id.length);
  return out;
}

/** The frame's parts (`sealed` is a view into `bytes`); ContractViolation when it is not a frame. */
export function decodeFirmwareChunkFrame(bytes: Uint8Array): FirmwareChunkFrame {
  const fail = (why: string): never => {
    throw new ContractViolation(`firmware chunk frame: ${why}`);
  };
  if (bytes.length < fixedBytes || magic.some((b, i) => bytes[i] !== b)) fail('not a frame');
  if (bytes[4] !== frameVersion) fail(`unknown version ${bytes[4]}`);
  const idLength = bytes[5]!;
  if (bytes.length <= fixedBytes + idLength) fail('truncated');
  const rolloutId = Buffer.from(bytes.subarray(6, 6 + idLength)).toString('ascii');
  if (!isAggregateId(rolloutId)) fail('rollout id is not an aggregate id');
  const index = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(6 + idLength);
  return { rolloutId, index, sealed: bytes.subarray(fixedBytes + idLength) };
}
