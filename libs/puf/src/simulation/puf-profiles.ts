import { ConcatenatedCodeScheme, SRAM_CODE_SCHEME, TUNNELLING_CODE_SCHEME } from '../codes/concatenated-code.js';
import { InvalidPufParameterError } from '../errors.js';

/**
 * Parameters of Maes' heterogeneous-cell model. Cell i reads
 *   bit_i = [ m_i + d_i * (T - 25)/100 + v_i * dV + a_i(t) + n > 0 ]
 * with all quantities in units of the mismatch standard deviation (m_i ~ N(mu, 1)).
 */
export interface CellModelParameters {
  /** mu: mean of the mismatch m_i ~ N(mu, 1). 0 = unbiased; P(one) ~ Phi(mu / sqrt(1 + lambda^2)). */
  mismatchMean: number;
  /** lambda: standard deviation of the per-read noise n ~ N(0, lambda^2). */
  readNoiseSigma: number;
  /** Mean of the per-cell temperature coefficient d_i (per 100 C); non-zero shifts bias with temperature. */
  temperatureCoefficientMean: number;
  /** Std of d_i ~ N(mean, sigma^2) (per 100 C): cells flip at different temperatures. */
  temperatureCoefficientSigma: number;
  /** Std of the voltage coefficient v_i ~ N(0, sigma^2), per unit of relative supply deviation. */
  voltageCoefficientSigma: number;
  /**
   * Aging: a_i(t) = -m_i * s_i * A(t), s_i ~ U(0, 1) per cell, A(t) = agingMaxFraction * (1 - exp(-t / tau)).
   * Cells drift towards 0 (less stable) but never cross it by aging alone (A <= 1).
   */
  agingMaxFraction: number;
  /** tau of A(t), in years. */
  agingTimeConstantYears: number;
}

export type PufProfileName = 'sram' | 'tunnelling';

export interface PufProfile {
  readonly name: string;
  readonly cells: CellModelParameters;
  readonly code: ConcatenatedCodeScheme;
  /** Reads majority-voted into the enrolment reference (1 = a single read, the conservative case). */
  readonly enrolmentReads: number;
}

/**
 * SRAM start-up values: ~4 % intra-distance at 25 C (read-to-read), ~10 % at -40 C and ~14 % at
 * +125 C, growing by roughly a fifth over 10 years. Matches published 65-nm SRAM PUF figures.
 */
export const SRAM_PROFILE: PufProfile = Object.freeze({
  name: 'sram',
  cells: Object.freeze({
    mismatchMean: 0,
    readNoiseSigma: 0.09,
    temperatureCoefficientMean: 0,
    temperatureCoefficientSigma: 0.46,
    voltageCoefficientSigma: 0.5,
    agingMaxFraction: 0.3,
    agingTimeConstantYears: 8,
  }),
  code: SRAM_CODE_SCHEME,
  enrolmentReads: 1,
});

/**
 * Oxide-breakdown / quantum-tunnelling PUF: strongly bistable cells, weak temperature dependence:
 * well under 1 % bit error at every corner.
 */
export const TUNNELLING_PROFILE: PufProfile = Object.freeze({
  name: 'tunnelling',
  cells: Object.freeze({
    mismatchMean: 0,
    readNoiseSigma: 0.006,
    temperatureCoefficientMean: 0,
    temperatureCoefficientSigma: 0.012,
    voltageCoefficientSigma: 0.02,
    agingMaxFraction: 0.1,
    agingTimeConstantYears: 10,
  }),
  code: TUNNELLING_CODE_SCHEME,
  enrolmentReads: 1,
});

export const PUF_PROFILES: Readonly<Record<PufProfileName, PufProfile>> = Object.freeze({
  sram: SRAM_PROFILE,
  tunnelling: TUNNELLING_PROFILE,
});

/** A named profile with some parameters overridden (e.g. a bias-injection experiment). */
export function customiseProfile(
  base: PufProfile | PufProfileName,
  overrides: {
    name?: string;
    cells?: Partial<CellModelParameters>;
    code?: ConcatenatedCodeScheme;
    enrolmentReads?: number;
  },
): PufProfile {
  const b = typeof base === 'string' ? PUF_PROFILES[base] : base;
  const profile: PufProfile = {
    name: overrides.name ?? b.name,
    cells: { ...b.cells, ...overrides.cells },
    code: overrides.code ?? b.code,
    enrolmentReads: overrides.enrolmentReads ?? b.enrolmentReads,
  };
  validateProfile(profile);
  return Object.freeze(profile);
}

export function resolveProfile(profile: PufProfile | PufProfileName): PufProfile {
  if (typeof profile !== 'string') return profile;
  const p = PUF_PROFILES[profile];
  if (!p) throw new InvalidPufParameterError('unknown PUF profile', { profile });
  return p;
}

export function validateProfile(p: PufProfile): void {
  const c = p.cells;
  const bad = (field: string) => {
    throw new InvalidPufParameterError('invalid PUF profile parameter', { profile: p.name, field });
  };
  if (!Number.isFinite(c.mismatchMean)) bad('mismatchMean');
  if (!(c.readNoiseSigma >= 0)) bad('readNoiseSigma');
  if (!Number.isFinite(c.temperatureCoefficientMean)) bad('temperatureCoefficientMean');
  if (!(c.temperatureCoefficientSigma >= 0)) bad('temperatureCoefficientSigma');
  if (!(c.voltageCoefficientSigma >= 0)) bad('voltageCoefficientSigma');
  if (!(c.agingMaxFraction >= 0 && c.agingMaxFraction <= 1)) bad('agingMaxFraction');
  if (!(c.agingTimeConstantYears > 0)) bad('agingTimeConstantYears');
  if (!(Number.isInteger(p.enrolmentReads) && p.enrolmentReads >= 1 && p.enrolmentReads % 2 === 1))
    bad('enrolmentReads');
}

/** Number of PUF cells a profile reads: the concatenated code's raw length. */
export function cellCountOf(p: PufProfile): number {
  return p.code.bchBlocks * ((1 << p.code.bch.m) - 1) * p.code.repetition;
}

/** A(t): fraction by which the most susceptible cell's mismatch has shrunk after t years. */
export function agingFraction(c: CellModelParameters, ageYears: number): number {
  if (ageYears <= 0) return 0;
  return c.agingMaxFraction * (1 - Math.exp(-ageYears / c.agingTimeConstantYears));
}
