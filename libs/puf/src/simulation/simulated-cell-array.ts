import { createHash, randomBytes } from 'node:crypto';
import { InvalidPufParameterError } from '../errors.js';
import { DeterministicPrng, SimulationSeed, deriveSeed, seedFromNumber } from './deterministic-prng.js';
import { NOMINAL_TEMPERATURE_C, OperatingConditions } from './operating-conditions.js';
import { CellModelParameters, agingFraction } from './puf-profiles.js';

/** Independent PRNG streams per cell parameter, so a read at 25 C need not draw temperature terms. */
const STREAM_MISMATCH = 1;
const STREAM_TEMPERATURE = 2;
const STREAM_VOLTAGE = 3;
const STREAM_AGING = 4;
const STREAM_READ_NOISE = 5;

/** Per-cell parameters, kept only when a caller trades memory for read speed. */
interface RetainedCellParameters {
  mismatch: Float32Array;
  temperature: Float32Array;
  voltage: Float32Array;
  agingSusceptibility: Float32Array;
}

/** Turn any seed material into a 128-bit simulation seed (the hidden "silicon"). */
export function manufacturingSeed(material: string | number | Uint8Array): SimulationSeed {
  if (typeof material === 'number') return seedFromNumber(material);
  const digest = createHash('sha256').update(material).digest();
  return [digest.readUInt32LE(0), digest.readUInt32LE(4), digest.readUInt32LE(8), digest.readUInt32LE(12)];
}

/** A fresh, unpredictable silicon seed (for fleets that do not need reproducibility). */
export function randomManufacturingSeed(): SimulationSeed {
  const b = randomBytes(16);
  return [b.readUInt32LE(0), b.readUInt32LE(4), b.readUInt32LE(8), b.readUInt32LE(12)];
}

/**
 * One device's PUF cell array. By default only the 16-byte hidden seed is kept and every read
 * regenerates the per-cell parameters from it (idle devices cost almost nothing);
 * `retainParameters()` caches them as Float32Arrays (16 bytes per cell) for faster repeated reads.
 * Each read draws fresh noise from a stream keyed by (seed, read counter): reads differ, runs reproduce.
 */
export class SimulatedCellArray {
  readonly #seed: SimulationSeed;
  #retained: RetainedCellParameters | undefined;
  #readCounter = 0;

  constructor(
    seed: SimulationSeed,
    readonly cellCount: number,
    readonly parameters: Readonly<CellModelParameters>,
  ) {
    if (!Number.isInteger(cellCount) || cellCount < 1) {
      throw new InvalidPufParameterError('cellCount must be a positive integer', { cellCount });
    }
    this.#seed = [seed[0] >>> 0, seed[1] >>> 0, seed[2] >>> 0, seed[3] >>> 0];
  }

  get readCount(): number {
    return this.#readCounter;
  }

  get retainsParameters(): boolean {
    return this.#retained !== undefined;
  }

  /** Cache per-cell parameters (16 bytes/cell) instead of regenerating them on each read. */
  retainParameters(): void {
    if (this.#retained) return;
    const n = this.cellCount;
    const retained: RetainedCellParameters = {
      mismatch: new Float32Array(n),
      temperature: new Float32Array(n),
      voltage: new Float32Array(n),
      agingSusceptibility: new Float32Array(n),
    };
    const c = this.parameters;
    const gm = new DeterministicPrng(deriveSeed(this.#seed, STREAM_MISMATCH));
    const gd = new DeterministicPrng(deriveSeed(this.#seed, STREAM_TEMPERATURE));
    const gv = new DeterministicPrng(deriveSeed(this.#seed, STREAM_VOLTAGE));
    const ga = new DeterministicPrng(deriveSeed(this.#seed, STREAM_AGING));
    for (let i = 0; i < n; i++) {
      retained.mismatch[i] = c.mismatchMean + gm.nextGaussian();
      retained.temperature[i] = c.temperatureCoefficientMean + c.temperatureCoefficientSigma * gd.nextGaussian();
      retained.voltage[i] = c.voltageCoefficientSigma * gv.nextGaussian();
      retained.agingSusceptibility[i] = ga.nextFloat();
    }
    this.#retained = retained;
  }

  releaseParameters(): void {
    this.#retained = undefined;
  }

  /** Takes the next read's number without reading: the read itself may then happen elsewhere (`readAt`). */
  reserveRead(): number {
    return this.#readCounter++;
  }

  /** One noisy read of all cells under the given conditions: one bit (0/1) per byte. */
  read(at: OperatingConditions, out: Uint8Array = new Uint8Array(this.cellCount)): Uint8Array {
    return this.readAt(this.reserveRead(), at, out);
  }

  /**
   * Read number `readIndex` (its noise is keyed by the number): the same silicon, conditions and
   * number give the same bits in any thread. Does not move the read counter.
   */
  readAt(readIndex: number, at: OperatingConditions, out: Uint8Array = new Uint8Array(this.cellCount)): Uint8Array {
    if (out.length !== this.cellCount) {
      throw new InvalidPufParameterError('output length must equal cellCount', { cellCount: this.cellCount });
    }
    const c = this.parameters;
    const n = this.cellCount;
    const tempScale = (at.temperatureC - NOMINAL_TEMPERATURE_C) / 100;
    const dV = at.voltageDelta;
    const aging = agingFraction(c, at.ageYears);
    const noise = new DeterministicPrng(deriveSeed(this.#seed, STREAM_READ_NOISE, readIndex));
    const lambda = c.readNoiseSigma;
    const r = this.#retained;

    if (r) {
      for (let i = 0; i < n; i++) {
        const m = r.mismatch[i]!;
        const x =
          m +
          r.temperature[i]! * tempScale +
          r.voltage[i]! * dV -
          m * r.agingSusceptibility[i]! * aging +
          lambda * noise.nextGaussian();
        out[i] = x > 0 ? 1 : 0;
      }
      return out;
    }

    // Regenerate parameters from the seed; skip streams whose term is zero at these conditions.
    const gm = new DeterministicPrng(deriveSeed(this.#seed, STREAM_MISMATCH));
    const gd = tempScale !== 0 ? new DeterministicPrng(deriveSeed(this.#seed, STREAM_TEMPERATURE)) : undefined;
    const gv = dV !== 0 ? new DeterministicPrng(deriveSeed(this.#seed, STREAM_VOLTAGE)) : undefined;
    const ga = aging !== 0 ? new DeterministicPrng(deriveSeed(this.#seed, STREAM_AGING)) : undefined;
    const dMean = c.temperatureCoefficientMean;
    const dSigma = c.temperatureCoefficientSigma;
    const vSigma = c.voltageCoefficientSigma;
    for (let i = 0; i < n; i++) {
      // Round through Float32 like the retained path, so both paths read identical silicon.
      const m = Math.fround(c.mismatchMean + gm.nextGaussian());
      let x = m;
      if (gd) x += Math.fround(dMean + dSigma * gd.nextGaussian()) * tempScale;
      if (gv) x += Math.fround(vSigma * gv.nextGaussian()) * dV;
      if (ga) x -= m * Math.fround(ga.nextFloat()) * aging;
      x += lambda * noise.nextGaussian();
      out[i] = x > 0 ? 1 : 0;
    }
    return out;
  }
}
