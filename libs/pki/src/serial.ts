/** Certificate serial numbers: 128 random bits, positive, never zero (RFC 5280 4.1.2.2, CA/B >= 64 bits). */
import { secureRandom } from './engine.js';
import { unsignedIntegerContent } from './encoding/der.js';
import { toHex } from './encoding/bytes.js';
import { InvalidPkiInputError } from './errors.js';

/** Source of random bytes; injectable so known-answer tests get fixed serials. */
export type RandomSource = (length: number) => Uint8Array;

// Serials are public, so their randomness can be drawn in blocks: one CSPRNG call per 256
// serials instead of one each (a measurable share of issuing a certificate).
const POOL_BYTES = 4096;
let pool: Uint8Array = new Uint8Array(0);
let poolOffset = 0;
const pooledSecureRandom: RandomSource = (length) => {
  if (length > POOL_BYTES) return secureRandom(length);
  if (poolOffset + length > pool.length) {
    pool = secureRandom(POOL_BYTES);
    poolOffset = 0;
  }
  const out = pool.slice(poolOffset, poolOffset + length);
  poolOffset += length;
  return out;
};

/**
 * 16 random bytes with the first byte's top bit cleared, so the DER INTEGER is positive and at
 * most 16 octets (127 bits of entropy). An all-zero draw (2^-127) is retried rather than emitted.
 */
export const randomSerial = (random: RandomSource = pooledSecureRandom): Uint8Array => {
  for (let attempt = 0; attempt < 4; attempt++) {
    const bytes = random(16);
    if (bytes.length !== 16) throw new InvalidPkiInputError('random source returned the wrong length', {});
    const serial = bytes.slice();
    serial[0]! &= 0x7f;
    if (serial.some((b) => b !== 0)) return serial;
  }
  throw new InvalidPkiInputError('random source keeps returning zeros', {});
};

/** Checks a caller-chosen serial: positive, non-zero, at most 20 octets once encoded. */
export const assertSerial = (serial: Uint8Array): void => {
  const content = unsignedIntegerContent(serial);
  if (content.length > 20) throw new InvalidPkiInputError('serial longer than 20 octets', { length: content.length });
  if (content.every((b) => b === 0)) throw new InvalidPkiInputError('serial must not be zero', {});
};

/** The serial as shown and compared everywhere: lowercase hex of the minimal unsigned value. */
export const serialToHex = (serial: Uint8Array): string => {
  let start = 0;
  while (start < serial.length - 1 && serial[start] === 0) start++;
  return toHex(serial.subarray(start));
};
