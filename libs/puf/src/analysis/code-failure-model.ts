import { ConcatenatedCodeScheme } from '../codes/concatenated-code.js';
import { binomialUpperTail } from './binomial.js';

export interface CodeFailureBreakdown {
  /** Raw bit error rate (i.i.d. errors assumed). */
  bitErrorRate: number;
  /** Error rate after majority decoding of Rep(r): P[Bin(r, p) > r/2]. */
  innerErrorRate: number;
  /** One BCH block fails: P[Bin(n, p_inner) > t]. */
  blockFailureRate: number;
  /** Key reconstruction fails: any of the blocks fails. */
  keyFailureRate: number;
}

/**
 * Analytic key failure rate of the concatenated code for i.i.d. bit errors: binomial tail of
 * Rep(r), then binomial tail of BCH beyond t per block. Bounded-distance decoding never corrects
 * more than t, so this is exact for i.i.d. errors (a miscorrection is still a failure, caught by the key check).
 */
export function analyticKeyFailureRate(scheme: ConcatenatedCodeScheme, bitErrorRate: number): CodeFailureBreakdown {
  const r = scheme.repetition;
  const n = (1 << scheme.bch.m) - 1;
  const t = scheme.bch.t;
  const innerErrorRate = r === 1 ? bitErrorRate : binomialUpperTail(r, bitErrorRate, (r + 1) / 2);
  const blockFailureRate = binomialUpperTail(n, innerErrorRate, t + 1);
  // 1 - (1 - f)^b without cancellation for tiny f.
  const keyFailureRate = -Math.expm1(scheme.bchBlocks * Math.log1p(-Math.min(blockFailureRate, 1 - 1e-16)));
  return { bitErrorRate, innerErrorRate, blockFailureRate, keyFailureRate };
}
