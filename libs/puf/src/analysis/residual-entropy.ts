import { ConcatenatedCodeScheme } from '../codes/concatenated-code.js';
import { logBinomialCoefficient } from './binomial.js';

/** Min-entropy of one bit with P(one) = p. */
export function bitMinEntropy(p: number): number {
  return -Math.log2(Math.max(p, 1 - p));
}

/**
 * Residual (average) min-entropy of the secret bit of one Rep(r) block after publishing its
 * code-offset helper data, for i.i.d. response bits with P(one) = p:
 *   H = -log2( 1/2 * sum_w C(r,w) * max(p^w q^(r-w), p^(r-w) q^w) ).
 * 1 bit for an unbiased source; r = 1 gives the plain bit min-entropy. Exact, not a bound.
 */
export function repetitionBlockResidualEntropy(r: number, p: number): number {
  const q = 1 - p;
  let guess = 0;
  for (let w = 0; w <= r; w++) {
    const a = w * Math.log(p) + (r - w) * Math.log(q);
    const b = (r - w) * Math.log(p) + w * Math.log(q);
    guess += Math.exp(logBinomialCoefficient(r, w) + Math.max(a, b));
  }
  return -Math.log2(guess / 2);
}

export interface ResidualEntropyReport {
  /** P(one) assumed for every cell. */
  oneProbability: number;
  rawBits: number;
  secretBits: number;
  /** H_inf of the raw response: rawBits * H_inf(bit). */
  responseMinEntropy: number;
  /** Code-offset leakage: n - k of the concatenated code (rawBits - secretBits). */
  leakageBits: number;
  /** Generic bound H_inf(X) - (n - k). */
  genericBound: number;
  /**
   * Tighter bound used for the check: exact residual entropy of each Rep block's secret bit,
   * summed per BCH block, minus the BCH leakage (n - k = 124 per block). Equals genericBound for r = 1.
   */
  residualEntropy: number;
  targetBits: number;
  meetsTarget: boolean;
}

/**
 * Residual min-entropy of the secret after publishing helper data (Dodis et al.: average
 * min-entropy drops by at most the log of the helper-data alphabet's syndrome part, n - k).
 * Bias accounting: cells are i.i.d. with P(one) = p; a biased source leaks more through the sketch.
 */
export function residualEntropy(
  scheme: ConcatenatedCodeScheme,
  oneProbability: number,
  targetBits = 256,
): ResidualEntropyReport {
  const n = (1 << scheme.bch.m) - 1;
  const r = scheme.repetition;
  const rawBits = scheme.bchBlocks * n * r;
  // k of a narrow-sense BCH(n, t) code is fixed by the generator degree; for the codes we ship
  // (255, t=18) that is 131. Computed from the cyclotomic cosets to stay generic.
  const k = n - bchParityBits(scheme.bch.m, scheme.bch.t);
  const secretBits = scheme.bchBlocks * k;
  const responseMinEntropy = rawBits * bitMinEntropy(oneProbability);
  const leakageBits = rawBits - secretBits;
  const genericBound = responseMinEntropy - leakageBits;
  const perBlock = n * repetitionBlockResidualEntropy(r, oneProbability) - (n - k);
  const residual = scheme.bchBlocks * perBlock;
  return {
    oneProbability,
    rawBits,
    secretBits,
    responseMinEntropy,
    leakageBits,
    genericBound,
    residualEntropy: residual,
    targetBits,
    meetsTarget: residual >= targetBits,
  };
}

/** n - k of a narrow-sense binary BCH code: total size of the cyclotomic cosets of 1..2t. */
export function bchParityBits(m: number, t: number): number {
  const n = (1 << m) - 1;
  const seen = new Set<number>();
  for (let e = 1; e <= 2 * t; e++) {
    let x = e;
    do {
      seen.add(x);
      x = (2 * x) % n;
    } while (x !== e);
  }
  return seen.size;
}
