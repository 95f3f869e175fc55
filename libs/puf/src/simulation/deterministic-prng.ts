/**
 * Deterministic pseudo-random numbers for the *simulation* of silicon only (cell mismatch,
 * temperature coefficients, read noise, injected error patterns). Never used for key material:
 * enrolment secrets come from node's CSPRNG in extractor/.
 *
 * xoshiro128** (Blackman & Vigna) on 32-bit integers: fast in JS because Math.imul keeps
 * everything in int32, no BigInt. Seeds are expanded with splitmix32.
 */

/** One splitmix32 step: a good 32-bit mixer, used to expand seeds and derive sub-stream seeds. */
export function splitmix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** A 128-bit simulation seed as four 32-bit words. */
export type SimulationSeed = readonly [number, number, number, number];

/** Derive an independent sub-stream seed (e.g. "mismatch of device 7", "read #42 noise"). */
export function deriveSeed(seed: SimulationSeed, ...tags: number[]): SimulationSeed {
  let h = 0x6a09e667;
  for (const w of seed) h = splitmix32(h ^ w);
  for (const t of tags) h = splitmix32(h ^ (t >>> 0) ^ Math.floor(t / 0x1_0000_0000));
  const a = splitmix32(h ^ 0x1);
  const b = splitmix32(a ^ 0x2);
  const c = splitmix32(b ^ 0x3);
  const d = splitmix32(c ^ 0x4);
  return [a, b, c, d];
}

/** Seed from a number (e.g. a test seed) by splitmix expansion. */
export function seedFromNumber(n: number): SimulationSeed {
  return deriveSeed([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], n);
}

const TWO_POW_32 = 4294967296;

export class DeterministicPrng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareGaussian = 0;
  private hasSpare = false;

  constructor(seed: SimulationSeed) {
    this.s0 = seed[0] | 0;
    this.s1 = seed[1] | 0;
    this.s2 = seed[2] | 0;
    this.s3 = seed[3] | 0;
    // xoshiro must not start from the all-zero state.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 0x9e3779b9;
  }

  static fromNumber(n: number): DeterministicPrng {
    return new DeterministicPrng(seedFromNumber(n));
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const s1 = this.s1;
    const r = Math.imul(s1, 5);
    const rot = (r << 7) | (r >>> 25);
    const result = Math.imul(rot, 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result;
  }

  /** Uniform in the open interval (0, 1): safe for log(). 32-bit resolution is plenty here. */
  nextFloat(): number {
    return (this.nextUint32() + 0.5) / TWO_POW_32;
  }

  /** Uniform integer in [0, bound). */
  nextInt(bound: number): number {
    return Math.floor(this.nextFloat() * bound);
  }

  /** Standard normal N(0, 1) by Box-Muller, both outputs used. */
  nextGaussian(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spareGaussian;
    }
    const u = this.nextFloat();
    const v = this.nextFloat();
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * v;
    this.spareGaussian = r * Math.sin(theta);
    this.hasSpare = true;
    return r * Math.cos(theta);
  }

  /** Fill with uniform random bits (one bit per byte, 0/1). */
  fillBits(out: Uint8Array): Uint8Array {
    for (let i = 0; i < out.length; i += 32) {
      const w = this.nextUint32();
      const end = Math.min(32, out.length - i);
      for (let j = 0; j < end; j++) out[i + j] = (w >>> j) & 1;
    }
    return out;
  }
}
