import { timingSafeEqual } from 'node:crypto';
import { ConcatenatedCodeScheme, sharedConcatenatedCode } from '../codes/concatenated-code.js';
import { isKeyCheckMismatchError, isKeyReconstructionError } from '../errors.js';
import { enrolResponse, recoverRootSecret } from '../extractor/fuzzy-extractor.js';
import { DeterministicPrng } from '../simulation/deterministic-prng.js';

export interface MonteCarloKeyFailure {
  bitErrorRate: number;
  trials: number;
  /** Reconstructions that did not yield the enrolled root secret (detected either way). */
  failures: number;
  decodingFailures: number;
  keyCheckFailures: number;
  /** Wrong root secret returned as success: must be 0 (the key check exists to make it so). */
  silentWrongKeys: number;
  failureRate: number;
  /** One-sided 95 % upper confidence bound on the failure rate (exact for 0 failures: 3/N rule). */
  upperBound95: number;
}

/**
 * Key failure rate by Monte Carlo through the real recovery path (decode + HKDF + key check):
 * one enrolment from a random response, then `trials` reconstructions from copies with i.i.d.
 * bit errors at `bitErrorRate`. Error positions are drawn by geometric skipping, so the cost
 * scales with the number of errors, not with the response length.
 */
export function monteCarloKeyFailureRate(
  scheme: ConcatenatedCodeScheme,
  bitErrorRate: number,
  trials: number,
  seed = 1,
): MonteCarloKeyFailure {
  const prng = DeterministicPrng.fromNumber(seed);
  const code = sharedConcatenatedCode(scheme);
  const reference = prng.fillBits(new Uint8Array(code.rawBitCount));
  const { helperData, rootSecret } = enrolResponse(reference, scheme);
  const noisy = new Uint8Array(reference.length);
  const flipped = new Int32Array(reference.length);
  const logQ = Math.log1p(-bitErrorRate);
  let decodingFailures = 0;
  let keyCheckFailures = 0;
  let silentWrongKeys = 0;
  noisy.set(reference);
  for (let trial = 0; trial < trials; trial++) {
    let count = 0;
    if (bitErrorRate > 0) {
      let pos = Math.floor(Math.log(prng.nextFloat()) / logQ);
      while (pos < noisy.length) {
        noisy[pos]! ^= 1;
        flipped[count++] = pos;
        pos += 1 + Math.floor(Math.log(prng.nextFloat()) / logQ);
      }
    }
    try {
      const recovered = recoverRootSecret(noisy, helperData);
      if (!timingSafeEqual(recovered, rootSecret)) silentWrongKeys++;
    } catch (e) {
      if (isKeyReconstructionError(e)) decodingFailures++;
      else if (isKeyCheckMismatchError(e)) keyCheckFailures++;
      else throw e;
    }
    for (let i = 0; i < count; i++) noisy[flipped[i]!]! ^= 1; // undo: back to the reference
  }
  rootSecret.fill(0);
  const failures = decodingFailures + keyCheckFailures + silentWrongKeys;
  return {
    bitErrorRate,
    trials,
    failures,
    decodingFailures,
    keyCheckFailures,
    silentWrongKeys,
    failureRate: failures / trials,
    upperBound95: upperConfidenceBound95(failures, trials),
  };
}

/** One-sided 95 % upper bound of a binomial proportion (Wilson score; 3/N for zero events). */
export function upperConfidenceBound95(events: number, trials: number): number {
  if (trials === 0) return 1;
  if (events === 0) return -Math.log(0.05) / trials;
  const z = 1.645;
  const p = events / trials;
  const denom = 1 + (z * z) / trials;
  const centre = p + (z * z) / (2 * trials);
  const margin = z * Math.sqrt((p * (1 - p)) / trials + (z * z) / (4 * trials * trials));
  return Math.min(1, (centre + margin) / denom);
}
