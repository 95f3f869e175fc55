import { InvalidPufParameterError } from '../errors.js';

/**
 * GF(2^m) for 2 <= m <= 8 with log/antilog tables: multiplication is two lookups and an add.
 * Elements are integers 0..2^m-1 in polynomial basis; alpha = x is primitive for the given polynomial.
 */
export class GaloisField {
  /** Number of non-zero elements, 2^m - 1 (also the BCH length n). */
  readonly order: number;
  readonly size: number;
  /** exp[i] = alpha^i, doubled in length so exp[a + b] needs no modulo for a, b < order. */
  readonly exp: Uint8Array;
  /** log[x] = i with alpha^i = x; log[0] is -1 (undefined). */
  readonly log: Int16Array;

  constructor(
    readonly m: number,
    readonly primitivePolynomial: number,
  ) {
    if (!Number.isInteger(m) || m < 2 || m > 8) {
      throw new InvalidPufParameterError('GF(2^m) supports 2 <= m <= 8', { m });
    }
    this.size = 1 << m;
    this.order = this.size - 1;
    this.exp = new Uint8Array(2 * this.order);
    this.log = new Int16Array(this.size).fill(-1);
    let x = 1;
    for (let i = 0; i < this.order; i++) {
      if (this.log[x] !== -1) {
        throw new InvalidPufParameterError('polynomial is not primitive', { m, primitivePolynomial });
      }
      this.exp[i] = x;
      this.log[x] = i;
      x <<= 1;
      if (x & this.size) x ^= primitivePolynomial;
    }
    for (let i = this.order; i < 2 * this.order; i++) this.exp[i] = this.exp[i - this.order]!;
  }

  mul(a: number, b: number): number {
    if (a === 0 || b === 0) return 0;
    return this.exp[this.log[a]! + this.log[b]!]!;
  }

  div(a: number, b: number): number {
    if (b === 0) throw new InvalidPufParameterError('division by zero in GF(2^m)');
    if (a === 0) return 0;
    return this.exp[this.log[a]! - this.log[b]! + this.order]!;
  }

  /** alpha^e for any integer e (negative allowed). */
  alphaPow(e: number): number {
    const r = ((e % this.order) + this.order) % this.order;
    return this.exp[r]!;
  }
}

/** Conway/standard primitive polynomials (with the x^m term): x^4+x+1, x^8+x^4+x^3+x^2+1, ... */
export const PRIMITIVE_POLYNOMIALS: Readonly<Record<number, number>> = {
  2: 0b111,
  3: 0b1011,
  4: 0b10011,
  5: 0b100101,
  6: 0b1000011,
  7: 0b10001001,
  8: 0b100011101,
};
