import { createHmac } from 'node:crypto';

/**
 * HKDF-SHA-256 (RFC 5869) on node's HMAC. Same output as crypto.hkdfSync('sha256', ...) but about
 * twice as fast per call on Node 20 (no KeyObject set-up), which matters on the reconstruction
 * hot path. Cross-checked against hkdfSync and RFC 5869 test vectors in the unit tests.
 */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Buffer {
  if (!Number.isInteger(length) || length < 1 || length > 255 * 32) throw new RangeError('HKDF length out of range');
  const prk = createHmac('sha256', salt.length > 0 ? salt : Buffer.alloc(32))
    .update(ikm)
    .digest();
  const blocks = Math.ceil(length / 32);
  const out = Buffer.allocUnsafe(blocks * 32);
  let previous: Buffer = Buffer.alloc(0);
  for (let i = 1; i <= blocks; i++) {
    previous = createHmac('sha256', prk).update(previous).update(info).update(Uint8Array.of(i)).digest();
    previous.copy(out, (i - 1) * 32);
  }
  prk.fill(0);
  previous.fill(0);
  const result = Buffer.from(out.subarray(0, length));
  out.fill(0);
  return result;
}
