// P-256 curve parameters (SEC 2 / FIPS 186-4): y^2 = x^3 - 3x + b over GF(p).
const p = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const b = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;

const toBigInt = (bytes: Uint8Array) => BigInt(`0x${Buffer.from(bytes).toString('hex')}`);

/**
 * True when an uncompressed point (04 || X || Y) lies on P-256. Checked here because importing a
 * key through node's crypto costs about a millisecond, and an import call checks thousands.
 */
export function isOnP256Curve(point: Uint8Array): boolean {
  if (point.length !== 65 || point[0] !== 0x04) return false;
  const x = toBigInt(point.subarray(1, 33));
  const y = toBigInt(point.subarray(33, 65));
  if (x >= p || y >= p) return false;
  return (y * y - (x * x * x - 3n * x + b)) % p === 0n;
}
