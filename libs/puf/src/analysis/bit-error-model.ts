import { NOMINAL_TEMPERATURE_C, OperatingConditions } from '../simulation/operating-conditions.js';
import { PufProfile, agingFraction, customiseProfile } from '../simulation/puf-profiles.js';
import { normalCdf, normalPdf, normalQuantile } from './normal-distribution.js';
import { binomialUpperTail } from './binomial.js';

/** P(x > 0) for x ~ N(mean, sigma^2), with the sigma = 0 limit. */
function probabilityPositive(mean: number, sigma: number): number {
  if (sigma === 0) return mean > 0 ? 1 : 0;
  return normalCdf(mean / sigma);
}

/**
 * The bit error rate a profile is configured for: expected fraction of cells whose read under
 * `at` differs from the enrolment reference (majority of `enrolmentReads` nominal reads),
 * integrating the cell model over m_i, d_i, v_i, s_i and both reads' noise. This is the
 * "configured BER" the Monte Carlo intra-device distance is compared against.
 */
export function analyticBitErrorRate(profile: PufProfile, at: OperatingConditions): number {
  const c = profile.cells;
  const tau = (at.temperatureC - NOMINAL_TEMPERATURE_C) / 100;
  const aging = agingFraction(c, at.ageYears);
  const lambda = c.readNoiseSigma;
  const sigmaRead = Math.sqrt(
    lambda ** 2 + (c.temperatureCoefficientSigma * tau) ** 2 + (c.voltageCoefficientSigma * at.voltageDelta) ** 2,
  );
  const shift = c.temperatureCoefficientMean * tau;
  const enrolReads = profile.enrolmentReads;

  // Errors only happen for cells near the threshold: integrate m over a window scaled to the noise.
  const spread = Math.max(lambda, sigmaRead);
  const window = Math.min(12, (12 * spread + 2 * Math.abs(shift)) / (1 - aging) + 1e-9);
  const steps = 4000;
  const h = (2 * window) / steps;
  const agingSteps = aging > 0 ? 24 : 1;

  let ber = 0;
  for (let i = 0; i <= steps; i++) {
    const m = -window + i * h;
    const weight = (i === 0 || i === steps ? 0.5 : 1) * h * normalPdf(m - c.mismatchMean);
    const q = probabilityPositive(m, lambda);
    const pRef1 = enrolReads === 1 ? q : binomialUpperTail(enrolReads, q, (enrolReads + 1) / 2);
    let perCell = 0;
    for (let a = 0; a < agingSteps; a++) {
      const s = aging > 0 ? (a + 0.5) / agingSteps : 0; // s_i ~ U(0,1), midpoint rule
      const p1 = probabilityPositive(m * (1 - s * aging) + shift, sigmaRead);
      perCell += pRef1 * (1 - p1) + (1 - pRef1) * p1;
    }
    ber += weight * (perCell / agingSteps);
  }
  return ber;
}

/** Probability that a nominal read of a cell is 1 (the source bias the entropy analysis uses). */
export function analyticOneProbability(profile: PufProfile): number {
  const c = profile.cells;
  return normalCdf(c.mismatchMean / Math.sqrt(1 + c.readNoiseSigma ** 2));
}

/** A copy of `profile` whose cells read one with probability `oneProbability` (bias injection). */
export function profileWithOneProbability(profile: PufProfile, oneProbability: number): PufProfile {
  const mu = normalQuantile(oneProbability) * Math.sqrt(1 + profile.cells.readNoiseSigma ** 2);
  return customiseProfile(profile, {
    name: `${profile.name}-bias-${(oneProbability * 100).toFixed(1)}`,
    cells: { mismatchMean: mu },
  });
}
