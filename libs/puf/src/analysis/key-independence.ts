import { hammingDistanceBytes } from '../codes/bit-packing.js';
import { Summary, summarise } from './summary-statistics.js';

/**
 * Pairwise Hamming distances between secrets (e.g. 256-bit context secrets of many devices and
 * contexts). Independent uniform 256-bit secrets give Bin(256, 1/2): mean 128, std 8.
 */
export function pairwiseSecretDistances(secrets: readonly Uint8Array[]): Float64Array {
  const n = secrets.length;
  const out = new Float64Array((n * (n - 1)) / 2);
  let k = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) out[k++] = hammingDistanceBytes(secrets[i]!, secrets[j]!);
  return out;
}

export interface KeyIndependenceReport {
  distances: Summary;
  expectedMean: number;
  expectedStd: number;
  /** Pairs closer than expectedMean - 6 std (should be none for independent keys). */
  outliers: number;
}

export function keyIndependence(secrets: readonly Uint8Array[]): KeyIndependenceReport {
  const bits = (secrets[0]?.length ?? 0) * 8;
  const d = pairwiseSecretDistances(secrets);
  const expectedMean = bits / 2;
  const expectedStd = Math.sqrt(bits / 4);
  let outliers = 0;
  for (const x of d) if (Math.abs(x - expectedMean) > 6 * expectedStd) outliers++;
  return { distances: summarise(d), expectedMean, expectedStd, outliers };
}
