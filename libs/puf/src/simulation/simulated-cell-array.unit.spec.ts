import { hammingDistanceBits } from '../codes/bit-packing.js';
import { DeterministicPrng, seedFromNumber } from './deterministic-prng.js';
import { NOMINAL_CONDITIONS } from './operating-conditions.js';
import { SRAM_PROFILE, customiseProfile } from './puf-profiles.js';
import { SimulatedCellArray, manufacturingSeed } from './simulated-cell-array.js';

describe('DeterministicPrng (simulation only)', () => {
  it('is reproducible from its seed and differs across seeds', () => {
    const a = DeterministicPrng.fromNumber(1);
    const b = DeterministicPrng.fromNumber(1);
    const c = DeterministicPrng.fromNumber(2);
    const xs = Array.from({ length: 8 }, () => a.nextUint32());
    expect(Array.from({ length: 8 }, () => b.nextUint32())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.nextUint32())).not.toEqual(xs);
  });

  it('draws N(0,1) with mean ~0 and variance ~1 (50,000 samples, 5 sigma bounds)', () => {
    const g = DeterministicPrng.fromNumber(9);
    const n = 50_000;
    let s = 0;
    let ss = 0;
    for (let i = 0; i < n; i++) {
      const x = g.nextGaussian();
      s += x;
      ss += x * x;
    }
    expect(Math.abs(s / n)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(ss / n - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
  });
});

describe('SimulatedCellArray', () => {
  const cells = 3570;
  const seed = manufacturingSeed('device-1');

  it('reads the same silicon whether parameters are regenerated or retained', () => {
    const regenerated = new SimulatedCellArray(seed, cells, SRAM_PROFILE.cells);
    const retained = new SimulatedCellArray(seed, cells, SRAM_PROFILE.cells);
    retained.retainParameters();
    for (const at of [NOMINAL_CONDITIONS, { temperatureC: 125, voltageDelta: 0.1, ageYears: 10 }]) {
      expect(retained.read(at)).toEqual(regenerated.read(at));
    }
  });

  it('gives noisy reads of one device (a few % apart) and unrelated reads across devices (~50 %)', () => {
    const a = new SimulatedCellArray(seed, cells, SRAM_PROFILE.cells);
    const b = new SimulatedCellArray(manufacturingSeed('device-2'), cells, SRAM_PROFILE.cells);
    const a1 = a.read(NOMINAL_CONDITIONS);
    const a2 = a.read(NOMINAL_CONDITIONS);
    const intra = hammingDistanceBits(a1, a2) / cells;
    expect(intra).toBeGreaterThan(0.01);
    expect(intra).toBeLessThan(0.08);
    const inter = hammingDistanceBits(a1, b.read(NOMINAL_CONDITIONS)) / cells;
    expect(Math.abs(inter - 0.5)).toBeLessThan(0.05);
  });

  it('honours the bias parameter mu', () => {
    const biased = customiseProfile('sram', { cells: { mismatchMean: 1 } });
    const r = new SimulatedCellArray(seedFromNumber(4), cells, biased.cells).read(NOMINAL_CONDITIONS);
    const ones = r.reduce((s, x) => s + x, 0) / cells; // Phi(1) = 0.841
    expect(Math.abs(ones - 0.841)).toBeLessThan(0.04);
  });

  it('rejects invalid parameters', () => {
    expect(() => customiseProfile('sram', { cells: { readNoiseSigma: -1 } })).toThrow(/invalid PUF profile parameter/);
    expect(() => customiseProfile('sram', { enrolmentReads: 2 })).toThrow(/invalid PUF profile parameter/);
  });
});
