import { InvalidPufParameterError } from '../errors.js';

/**
 * Repetition code Rep(r), r odd: one bit becomes r copies, decoded by majority vote.
 * As the inner code of a concatenated scheme it turns a raw bit error rate p into
 * P[Bin(r, p) > r/2] for the outer BCH code. Bits are one per byte (0/1).
 */
export class RepetitionCode {
  constructor(readonly r: number) {
    if (!Number.isInteger(r) || r < 1 || r % 2 === 0) {
      throw new InvalidPufParameterError('repetition factor must be a positive odd integer', { r });
    }
  }

  encode(bits: Uint8Array, out: Uint8Array = new Uint8Array(bits.length * this.r)): Uint8Array {
    const r = this.r;
    for (let i = 0; i < bits.length; i++) out.fill(bits[i]! & 1, i * r, i * r + r);
    return out;
  }

  /** Majority-decode `count` blocks starting at `offset`; r = 1 is a plain copy. */
  decode(word: Uint8Array, out: Uint8Array, offset = 0, count = out.length): Uint8Array {
    const r = this.r;
    const half = r >>> 1;
    for (let i = 0, p = offset; i < count; i++, p += r) {
      let ones = 0;
      for (let j = 0; j < r; j++) ones += word[p + j]!;
      out[i] = ones > half ? 1 : 0;
    }
    return out;
  }
}
