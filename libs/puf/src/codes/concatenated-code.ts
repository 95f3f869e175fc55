import { InvalidPufParameterError } from '../errors.js';
import { BCH_255_131_18, BchCode, BchParameters, BCH_DECODING_FAILURE } from './bch-code.js';
import { RepetitionCode } from './repetition-code.js';

/** Shape of the fuzzy extractor's code: `blocks` outer BCH codewords, each bit repeated `repetition` times. */
export interface ConcatenatedCodeScheme {
  /** Inner repetition factor (odd); 1 means no inner code. */
  repetition: number;
  /** Number of outer BCH blocks. */
  bchBlocks: number;
  /** Outer BCH code parameters. */
  bch: BchParameters;
}

/**
 * sram: Rep(9) inner + 2 x BCH(255,131,18) outer: 4,590 raw bits carry 262 secret bits. Rep(9), not
 * Rep(7): at 125 C after 10 years the bit error rate is 15.7 %, where Rep(7) fails 1.4e-8 of key
 * reconstructions (1.09e-9 already at 15 %); Rep(9) keeps a key at <= 1e-9 up to 17.9 %
 * (libs/puf/README.md, "Code parameters").
 */
export const SRAM_CODE_SCHEME: ConcatenatedCodeScheme = { repetition: 9, bchBlocks: 2, bch: BCH_255_131_18 };
/** tunnelling: 2 x BCH(255,131,18) alone: 510 raw bits carry 262 secret bits. */
export const TUNNELLING_CODE_SCHEME: ConcatenatedCodeScheme = { repetition: 1, bchBlocks: 2, bch: BCH_255_131_18 };

const bchCache = new Map<string, BchCode>();
/** BCH construction builds tables: share one instance per parameter set (decoders are not reentrant, JS is single-threaded). */
export function sharedBchCode(p: BchParameters): BchCode {
  const key = `${p.m}/${p.t}/${p.primitivePolynomial ?? ''}`;
  let code = bchCache.get(key);
  if (!code) {
    code = new BchCode(p);
    bchCache.set(key, code);
  }
  return code;
}

/**
 * Concatenated code: secret bits -> per-block BCH encode -> each code bit repeated r times.
 * Decoding: majority per repetition block -> BCH decode per block -> message bits.
 */
export class ConcatenatedCode {
  readonly bch: BchCode;
  readonly repetition: RepetitionCode;
  readonly blocks: number;
  readonly rawBitCount: number;
  readonly secretBitCount: number;
  private readonly inner: Uint8Array;

  constructor(readonly scheme: ConcatenatedCodeScheme) {
    if (!Number.isInteger(scheme.bchBlocks) || scheme.bchBlocks < 1 || scheme.bchBlocks > 16) {
      throw new InvalidPufParameterError('bchBlocks must be 1..16', { bchBlocks: scheme.bchBlocks });
    }
    this.bch = sharedBchCode(scheme.bch);
    this.repetition = new RepetitionCode(scheme.repetition);
    this.blocks = scheme.bchBlocks;
    this.rawBitCount = this.blocks * this.bch.n * scheme.repetition;
    this.secretBitCount = this.blocks * this.bch.k;
    this.inner = new Uint8Array(this.bch.n);
  }

  encode(secretBits: Uint8Array, out: Uint8Array = new Uint8Array(this.rawBitCount)): Uint8Array {
    if (secretBits.length !== this.secretBitCount) {
      throw new InvalidPufParameterError('secret length mismatch', {
        expected: this.secretBitCount,
        actual: secretBits.length,
      });
    }
    const { n, k } = this.bch;
    const r = this.scheme.repetition;
    for (let b = 0; b < this.blocks; b++) {
      this.bch.encode(secretBits.subarray(b * k, (b + 1) * k), this.inner);
      this.repetition.encode(this.inner, out.subarray(b * n * r, (b + 1) * n * r));
    }
    return out;
  }

  /**
   * Decode a noisy codeword into `secretOut`. Returns the total corrected outer errors,
   * or -1 if any block failed (detected by the BCH decoder).
   */
  decode(noisy: Uint8Array, secretOut: Uint8Array): number {
    const { n, k } = this.bch;
    const r = this.scheme.repetition;
    let corrected = 0;
    for (let b = 0; b < this.blocks; b++) {
      this.repetition.decode(noisy, this.inner, b * n * r, n);
      const c = this.bch.decodeInPlace(this.inner);
      if (c === BCH_DECODING_FAILURE) return BCH_DECODING_FAILURE;
      corrected += c;
      secretOut.set(this.inner.subarray(n - k, n), b * k);
    }
    return corrected;
  }
}

const codeCache = new Map<string, ConcatenatedCode>();
export function sharedConcatenatedCode(s: ConcatenatedCodeScheme): ConcatenatedCode {
  const key = `${s.repetition}/${s.bchBlocks}/${s.bch.m}/${s.bch.t}/${s.bch.primitivePolynomial ?? ''}`;
  let code = codeCache.get(key);
  if (!code) {
    code = new ConcatenatedCode(s);
    codeCache.set(key, code);
  }
  return code;
}
