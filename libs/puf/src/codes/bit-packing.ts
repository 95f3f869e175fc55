/** One-bit-per-byte vectors (fast to index) <-> packed bytes (compact to store). LSB-first. */
export function packBits(bits: Uint8Array, out: Uint8Array = new Uint8Array(Math.ceil(bits.length / 8))): Uint8Array {
  out.fill(0);
  for (let i = 0; i < bits.length; i++) if (bits[i]) out[i >>> 3]! |= 1 << (i & 7);
  return out;
}

export function unpackBits(
  bytes: Uint8Array,
  bitCount: number,
  out: Uint8Array = new Uint8Array(bitCount),
): Uint8Array {
  for (let i = 0; i < bitCount; i++) out[i] = (bytes[i >>> 3]! >>> (i & 7)) & 1;
  return out;
}

export function hammingDistanceBits(a: Uint8Array, b: Uint8Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d += (a[i]! ^ b[i]!) & 1;
  return d;
}

const POPCOUNT8 = (() => {
  const t = new Uint8Array(256);
  for (let i = 1; i < 256; i++) t[i] = (i & 1) + t[i >>> 1]!;
  return t;
})();

/** Hamming distance of two equal-length byte strings (e.g. two 256-bit secrets). */
export function hammingDistanceBytes(a: Uint8Array, b: Uint8Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d += POPCOUNT8[(a[i]! ^ b[i]!) & 0xff]!;
  return d;
}
