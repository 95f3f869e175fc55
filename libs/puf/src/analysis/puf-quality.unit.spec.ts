import { SRAM_CODE_SCHEME, TUNNELLING_CODE_SCHEME } from '../codes/concatenated-code.js';
import { PufDevice } from '../device/puf-device.js';
import { enrolResponse, recoverRootSecret } from '../extractor/fuzzy-extractor.js';
import { deriveContextSecret } from '../keys/p256-key-derivation.js';
import {
  ENROLMENT_CONTEXT,
  FIRMWARE_DECRYPTION_CONTEXT,
  KeyContext,
  ownerContext,
  tlsContext,
} from '../keys/key-context.js';
import { OperatingConditions, TEMPERATURE_CORNERS_C } from '../simulation/operating-conditions.js';
import { SRAM_PROFILE, TUNNELLING_PROFILE } from '../simulation/puf-profiles.js';
import { analyticBitErrorRate, analyticOneProbability, profileWithOneProbability } from './bit-error-model.js';
import { analyticKeyFailureRate } from './code-failure-model.js';
import { sampleContextSecrets } from './context-secret-sampling.js';
import { keyIndependence } from './key-independence.js';
import { monteCarloKeyFailureRate } from './key-failure-monte-carlo.js';
import { repetitionBlockResidualEntropy, residualEntropy } from './residual-entropy.js';
import { intraDeviceDistances, responseQuality } from './response-statistics.js';
import { summarise } from './summary-statistics.js';

const fleet = (profile = SRAM_PROFILE, n = 24, tag = 'q') =>
  Array.from({ length: n }, (_, i) => PufDevice.manufacture({ seed: `${tag}/${profile.name}/${i}`, profile }));

describe('profiles hit their documented bit error rates', () => {
  it.each([
    [25, 0.03, 0.05],
    [-40, 0.1, 0.15],
    [125, 0.1, 0.15],
  ])('sram at %i C: configured BER in [%f, %f]', (temperatureC, lo, hi) => {
    const ber = analyticBitErrorRate(SRAM_PROFILE, { temperatureC, voltageDelta: 0, ageYears: 0 });
    expect(ber).toBeGreaterThanOrEqual(lo);
    expect(ber).toBeLessThanOrEqual(hi);
  });

  it('tunnelling stays at or below 1 % at every corner, even after 10 years', () => {
    for (const temperatureC of TEMPERATURE_CORNERS_C) {
      expect(
        analyticBitErrorRate(TUNNELLING_PROFILE, { temperatureC, voltageDelta: 0, ageYears: 10 }),
      ).toBeLessThanOrEqual(0.01);
    }
  });
});

describe.each([SRAM_PROFILE, TUNNELLING_PROFILE])('intra- and inter-device distance ($name)', (profile) => {
  const devices = fleet(profile, 16);
  const references = devices.map((d) => d.readEnrolmentReference());

  it.each([0, 10])('intra-device distance matches the configured BER at every corner (age %i years)', (ageYears) => {
    for (const temperatureC of TEMPERATURE_CORNERS_C) {
      const at: OperatingConditions = { temperatureC, voltageDelta: 0, ageYears };
      const configured = analyticBitErrorRate(profile, at);
      const measured = summarise(intraDeviceDistances(devices, references, at, 1)).mean;
      const bits = devices.length * references[0]!.length;
      // 5 sigma of the binomial estimate plus a small allowance for per-device correlation.
      expect(Math.abs(measured - configured)).toBeLessThan(
        5 * Math.sqrt((configured * (1 - configured)) / bits) + 0.002,
      );
    }
  });

  it('inter-device distance is ~50 % with spread ~sqrt(0.25/n); uniformity and aliasing ~50 %', () => {
    const q = responseQuality(references);
    expect(Math.abs(q.interDevice.mean - 0.5)).toBeLessThan(0.01);
    expect(q.interDevice.std / q.idealInterDeviceStd).toBeGreaterThan(0.75);
    expect(q.interDevice.std / q.idealInterDeviceStd).toBeLessThan(1.25);
    expect(Math.abs(q.uniformity.mean - 0.5)).toBeLessThan(0.01);
    expect(Math.abs(q.bitAliasing.mean - 0.5)).toBeLessThan(0.01);
  });
});

describe('key failure rate vs bit error rate', () => {
  it('sram analytic curve: <= 1e-9 per key past the worst corner (15.7 %), rising steeply past 20 %', () => {
    const at15 = analyticKeyFailureRate(SRAM_CODE_SCHEME, 0.15);
    expect(at15.innerErrorRate).toBeCloseTo(0.005629, 6); // P[Bin(9, .15) >= 5]
    expect(at15.keyFailureRate).toBeLessThan(1e-9);
    // 125 C after 10 years: 15.7 % (npm run puf:report); a margin to 17.5 %.
    expect(analyticKeyFailureRate(SRAM_CODE_SCHEME, 0.175).keyFailureRate).toBeLessThan(1e-9);
    expect(analyticKeyFailureRate(SRAM_CODE_SCHEME, 0.1).keyFailureRate).toBeLessThan(1e-20);
    expect(analyticKeyFailureRate(SRAM_CODE_SCHEME, 0.22).keyFailureRate).toBeGreaterThan(1e-4);
    // Rep(7), the former inner code: 1.09e-9 per key at 15 % (two blocks of 5.43e-10), exact binomial tails.
    const rep7 = analyticKeyFailureRate({ ...SRAM_CODE_SCHEME, repetition: 7 }, 0.15);
    expect(rep7.blockFailureRate).toBeCloseTo(5.4305e-10, 13);
    expect(rep7.keyFailureRate).toBeCloseTo(1.0861e-9, 12);
  });

  it.each([
    ['sram', SRAM_CODE_SCHEME, 0.235],
    ['sram', SRAM_CODE_SCHEME, 0.25],
    ['tunnelling', TUNNELLING_CODE_SCHEME, 0.045],
  ])('%s: Monte Carlo agrees with the analytic curve at BER %s (4 sigma)', (_n, scheme, ber) => {
    const trials = 2500;
    const analytic = analyticKeyFailureRate(scheme, ber).keyFailureRate;
    const mc = monteCarloKeyFailureRate(scheme, ber, trials, 99);
    expect(mc.silentWrongKeys).toBe(0);
    expect(Math.abs(mc.failureRate - analytic)).toBeLessThan(4 * Math.sqrt((analytic * (1 - analytic)) / trials));
  });

  it('sram: 0 failures in 6,000 reconstructions at 10 % BER (the report runs >= 1e6)', () => {
    const mc = monteCarloKeyFailureRate(SRAM_CODE_SCHEME, 0.1, 6_000, 7);
    expect(mc.failures).toBe(0);
    expect(mc.upperBound95).toBeLessThan(6e-4);
  });
});

describe('residual entropy after publishing helper data', () => {
  it('is >= 256 bits for the normal profiles, from the model bias and from measured uniformity', () => {
    for (const profile of [SRAM_PROFILE, TUNNELLING_PROFILE]) {
      const model = residualEntropy(profile.code, analyticOneProbability(profile));
      expect(model.residualEntropy).toBeCloseTo(262, 3);
      expect(model.leakageBits).toBe(2 * 255 * profile.code.repetition - 262);
      expect(model.meetsTarget).toBe(true);
    }
  });

  it('negative control: injecting a 55 % ones bias makes the check fail (model and measured)', () => {
    const biased = profileWithOneProbability(SRAM_PROFILE, 0.55);
    expect(residualEntropy(biased.code, analyticOneProbability(biased)).meetsTarget).toBe(false);
    const measured = responseQuality(fleet(biased, 12, 'bias').map((d) => d.readEnrolmentReference())).uniformity.mean;
    expect(Math.abs(measured - 0.55)).toBeLessThan(0.01);
    expect(residualEntropy(biased.code, measured).meetsTarget).toBe(false);
    expect(residualEntropy(TUNNELLING_CODE_SCHEME, 0.55).meetsTarget).toBe(false);
  });

  it('Rep block residual entropy is 1 bit unbiased, H_inf(bit) for r = 1, and drops with bias', () => {
    expect(repetitionBlockResidualEntropy(7, 0.5)).toBeCloseTo(1, 12);
    expect(repetitionBlockResidualEntropy(1, 0.55)).toBeCloseTo(-Math.log2(0.55), 12);
    expect(repetitionBlockResidualEntropy(7, 0.55)).toBeLessThan(0.9);
    expect(repetitionBlockResidualEntropy(9, 0.55)).toBeLessThan(0.9);
  });
});

describe('key independence', () => {
  it('context secrets across contexts and devices are pairwise 128 +/- 8 bits apart', () => {
    const contexts: KeyContext[] = [
      ENROLMENT_CONTEXT,
      tlsContext(1),
      tlsContext(2),
      ownerContext(1),
      ownerContext(2),
      FIRMWARE_DECRYPTION_CONTEXT,
    ];
    const secrets = sampleContextSecrets(fleet(SRAM_PROFILE, 30, 'ki'), contexts, {
      temperatureC: -40,
      voltageDelta: 0,
      ageYears: 10,
    });
    const report = keyIndependence(secrets);
    expect(report.distances.count).toBe((180 * 179) / 2);
    expect(Math.abs(report.distances.mean - 128)).toBeLessThan(1);
    expect(Math.abs(report.distances.std - 8)).toBeLessThan(0.6);
    expect(report.outliers).toBe(0);
    expect(report.distances.min).toBeGreaterThan(0);
  });

  it('the same context reproduces the same secret at every corner after 10 years', () => {
    const [device] = fleet(SRAM_PROFILE, 1, 'repro');
    const { helperData, rootSecret } = enrolResponse(device!.readEnrolmentReference(), SRAM_PROFILE.code);
    const expected = deriveContextSecret(rootSecret, tlsContext(3));
    for (const temperatureC of TEMPERATURE_CORNERS_C) {
      const root = recoverRootSecret(device!.readResponse({ temperatureC, ageYears: 10 }), helperData);
      expect(deriveContextSecret(root, tlsContext(3))).toEqual(expected);
      expect(deriveContextSecret(root, tlsContext(4))).not.toEqual(expected);
    }
  });
});
