import { createHash } from 'node:crypto';

/** DER prefix of a SubjectPublicKeyInfo for an uncompressed P-256 point (id-ecPublicKey, prime256v1). */
export const P256_SPKI_PREFIX = Uint8Array.from(
  Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex'),
);

/** SPKI DER of an uncompressed (0x04 || X || Y) P-256 public point. */
export function p256SpkiFromPoint(point: Uint8Array): Uint8Array {
  const out = new Uint8Array(P256_SPKI_PREFIX.length + point.length);
  out.set(P256_SPKI_PREFIX, 0);
  out.set(point, P256_SPKI_PREFIX.length);
  return out;
}

const BASE32_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** RFC 4648 base32, lowercase, no padding: URL-, subject- and filename-safe. */
export function base32Lower(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const b of bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/** Bytes of SHA-256(SPKI) kept in the id: 160 bits, collision-safe for any fleet size. */
export const DEVICE_ID_DIGEST_BYTES = 20;
export const DEVICE_ID_PATTERN = /^d-[a-z2-7]{32}$/;

/**
 * Device identity from its enrolment public key: `d-` + base32(first 20 bytes of SHA-256(SPKI DER)).
 * 34 characters matching ^[A-Za-z0-9_-]{1,128}$, so it can be a NATS subject token.
 */
export function identityFromPublicKey(spkiDer: Uint8Array): string {
  const digest = createHash('sha256').update(spkiDer).digest();
  return `d-${base32Lower(digest.subarray(0, DEVICE_ID_DIGEST_BYTES))}`;
}

export function isDeviceId(value: string): boolean {
  return DEVICE_ID_PATTERN.test(value);
}

/** True iff `deviceId` is the identity of `spkiDer`: how the platform checks a claimed id. */
export function deviceIdMatchesPublicKey(deviceId: string, spkiDer: Uint8Array): boolean {
  return isDeviceId(deviceId) && identityFromPublicKey(spkiDer) === deviceId;
}
