import { InvalidPufParameterError } from '../errors.js';
import { GaloisField, PRIMITIVE_POLYNOMIALS } from './galois-field.js';

export interface BchParameters {
  /** Field degree: n = 2^m - 1. */
  m: number;
  /** Designed error-correcting capability (designed distance 2t + 1). */
  t: number;
  /** Primitive polynomial of GF(2^m) (defaults to PRIMITIVE_POLYNOMIALS[m]). */
  primitivePolynomial?: number;
}

/** Result of decoding: the corrected error count, or -1 when the word is detectably undecodable. */
export type BchDecodeOutcome = number;
export const BCH_DECODING_FAILURE = -1;

/**
 * Narrow-sense binary primitive BCH code, systematic.
 * Bit vectors are Uint8Array with one bit (0/1) per byte: index j is the coefficient of x^j.
 * Codeword layout: parity bits at 0..n-k-1, message bits at n-k..n-1 (message bit i at n-k+i).
 *
 * Decoding: syndromes (odd ones from a table, even ones by squaring), Berlekamp-Massey, Chien
 * search, then a syndrome re-check, so a word beyond t errors is reported as a failure whenever
 * the locator does not split into distinct roots or the corrected word is not a codeword.
 * Not reentrant (scratch buffers are reused): JS is single-threaded and decoding never awaits.
 */
export class BchCode {
  readonly field: GaloisField;
  readonly n: number;
  readonly k: number;
  readonly t: number;
  /** Binary generator polynomial coefficients, index = degree (length n-k+1). */
  readonly generator: Uint8Array;

  /** syndromeTable[j * t + s] = alpha^((2s+1) * j): contribution of bit j to odd syndrome 2s+1. */
  private readonly syndromeTable: Uint8Array;
  private readonly syndromes: Uint8Array;
  private readonly lambda: Uint8Array;
  private readonly prevLambda: Uint8Array;
  private readonly scratch: Uint8Array;
  private readonly errorPositions: Int32Array;
  private readonly chienTermLog: Int32Array;

  constructor(params: BchParameters) {
    const { m, t } = params;
    const poly = params.primitivePolynomial ?? PRIMITIVE_POLYNOMIALS[m];
    if (poly === undefined) throw new InvalidPufParameterError('no primitive polynomial for m', { m });
    this.field = new GaloisField(m, poly);
    this.n = this.field.order;
    if (!Number.isInteger(t) || t < 1 || 2 * t >= this.n) {
      throw new InvalidPufParameterError('BCH t out of range', { m, t });
    }
    this.t = t;
    this.generator = bchGeneratorPolynomial(this.field, t);
    this.k = this.n - (this.generator.length - 1);
    if (this.k < 1) throw new InvalidPufParameterError('BCH code has no message bits', { m, t });

    const n = this.n;
    this.syndromeTable = new Uint8Array(n * t);
    for (let j = 0; j < n; j++) {
      for (let s = 0; s < t; s++) this.syndromeTable[j * t + s] = this.field.alphaPow((2 * s + 1) * j);
    }
    this.syndromes = new Uint8Array(2 * t + 1);
    this.lambda = new Uint8Array(2 * t + 2);
    this.prevLambda = new Uint8Array(2 * t + 2);
    this.scratch = new Uint8Array(2 * t + 2);
    this.errorPositions = new Int32Array(t);
    this.chienTermLog = new Int32Array(t + 1);
  }

  /** Systematic encoding of k message bits into n code bits. */
  encode(message: Uint8Array, out: Uint8Array = new Uint8Array(this.n)): Uint8Array {
    if (message.length !== this.k) {
      throw new InvalidPufParameterError('BCH message length mismatch', { expected: this.k, actual: message.length });
    }
    const r = this.n - this.k;
    const g = this.generator;
    // LFSR division of m(x) * x^(n-k) by g(x); parity register holds the running remainder.
    const parity = out.subarray(0, r);
    parity.fill(0);
    for (let i = this.k - 1; i >= 0; i--) {
      const feedback = (message[i]! ^ parity[r - 1]!) & 1;
      for (let j = r - 1; j > 0; j--) parity[j] = parity[j - 1]! ^ (feedback & g[j]!);
      parity[0] = feedback & g[0]!;
    }
    out.set(message, r);
    return out;
  }

  /** Copy the message bits out of a (corrected) systematic codeword. */
  extractMessage(codeword: Uint8Array, out: Uint8Array = new Uint8Array(this.k)): Uint8Array {
    out.set(codeword.subarray(this.n - this.k, this.n));
    return out;
  }

  /** True iff all 2t syndromes are zero (the word is a codeword of this BCH code). */
  isCodeword(word: Uint8Array): boolean {
    this.computeOddSyndromes(word);
    for (let s = 0; s < this.t; s++) if (this.syndromes[2 * s + 1] !== 0) return false;
    return true;
  }

  /** Syndromes S_1..S_2t of a word (index = syndrome number; index 0 unused). For tests/diagnostics. */
  syndromesOf(word: Uint8Array): Uint8Array {
    this.computeOddSyndromes(word);
    this.fillEvenSyndromes();
    return this.syndromes.slice();
  }

  /**
   * Decode in place: corrects up to t bit errors of `word` (n bits) and returns how many were
   * corrected, or BCH_DECODING_FAILURE (-1) leaving `word` unchanged when the error pattern is
   * detectably beyond the code's capability.
   */
  decodeInPlace(word: Uint8Array): BchDecodeOutcome {
    const f = this.field;
    const { exp, log } = f;
    const n = this.n;
    const t = this.t;
    const S = this.syndromes;

    let any = this.computeOddSyndromes(word);
    if (!any) return 0;
    this.fillEvenSyndromes();

    // Berlekamp-Massey over GF(2^m): shortest LFSR (error locator Lambda) generating S_1..S_2t.
    const C = this.lambda;
    const B = this.prevLambda;
    const T = this.scratch;
    C.fill(0);
    B.fill(0);
    C[0] = 1;
    B[0] = 1;
    let L = 0;
    let shift = 1;
    let b = 1;
    for (let r = 0; r < 2 * t; r++) {
      let d = S[r + 1]!;
      for (let i = 1; i <= L; i++) {
        const ci = C[i]!;
        const si = S[r + 1 - i]!;
        if (ci !== 0 && si !== 0) d ^= exp[log[ci]! + log[si]!]!;
      }
      if (d === 0) {
        shift++;
        continue;
      }
      const coefLog = log[d]! - log[b]! + n; // log(d / b), kept non-negative
      if (2 * L <= r) {
        T.set(C);
        for (let i = 0; i + shift < C.length; i++) {
          const bi = B[i]!;
          if (bi !== 0) C[i + shift]! ^= exp[(coefLog + log[bi]!) % n]!;
        }
        L = r + 1 - L;
        B.set(T);
        b = d;
        shift = 1;
      } else {
        for (let i = 0; i + shift < C.length; i++) {
          const bi = B[i]!;
          if (bi !== 0) C[i + shift]! ^= exp[(coefLog + log[bi]!) % n]!;
        }
        shift++;
      }
    }
    if (L > t) return BCH_DECODING_FAILURE;
    let degree = L;
    while (degree > 0 && C[degree] === 0) degree--;
    if (degree !== L) return BCH_DECODING_FAILURE;

    // Chien search: position j is in error iff Lambda(alpha^-j) = 0. Track log of each term and
    // step it by -i per position so every evaluation is lookups and XORs only.
    const termLog = this.chienTermLog;
    for (let i = 1; i <= L; i++) termLog[i] = C[i] === 0 ? -1 : log[C[i]!]!;
    const positions = this.errorPositions;
    let found = 0;
    for (let j = 0; j < n; j++) {
      let sum = 1; // Lambda_0
      for (let i = 1; i <= L; i++) {
        const tl = termLog[i]!;
        if (tl >= 0) sum ^= exp[tl]!;
      }
      if (sum === 0) {
        if (found === L) return BCH_DECODING_FAILURE;
        positions[found++] = j;
        if (found === L) break;
      }
      for (let i = 1; i <= L; i++) {
        const tl = termLog[i]!;
        if (tl >= 0) termLog[i] = tl >= i ? tl - i : tl - i + n;
      }
    }
    if (found !== L) return BCH_DECODING_FAILURE;

    // Re-check: flipping the found positions must cancel every syndrome, otherwise refuse.
    for (let e = 0; e < found; e++) {
      const base = positions[e]! * t;
      for (let s = 0; s < t; s++) S[2 * s + 1]! ^= this.syndromeTable[base + s]!;
    }
    any = false;
    for (let s = 0; s < t; s++) if (S[2 * s + 1] !== 0) any = true;
    if (any) return BCH_DECODING_FAILURE;
    for (let e = 0; e < found; e++) word[positions[e]!]! ^= 1;
    return found;
  }

  /** Odd syndromes into S[1], S[3], ...; returns whether any is non-zero. */
  private computeOddSyndromes(word: Uint8Array): boolean {
    const S = this.syndromes;
    const t = this.t;
    const table = this.syndromeTable;
    S.fill(0);
    // Accumulate in a small local array: fewer bounds checks on the hot path.
    const acc = this.scratch;
    acc.fill(0);
    for (let j = 0; j < this.n; j++) {
      if (word[j] !== 0) {
        const base = j * t;
        for (let s = 0; s < t; s++) acc[s]! ^= table[base + s]!;
      }
    }
    let any = false;
    for (let s = 0; s < t; s++) {
      S[2 * s + 1] = acc[s]!;
      if (acc[s] !== 0) any = true;
    }
    return any;
  }

  /** For binary words S_2i = S_i^2. */
  private fillEvenSyndromes(): void {
    const S = this.syndromes;
    const { exp, log } = this.field;
    for (let i = 2; i <= 2 * this.t; i += 2) {
      const h = S[i / 2]!;
      S[i] = h === 0 ? 0 : exp[2 * log[h]!]!;
    }
  }
}

/** Cyclotomic coset of e modulo n under multiplication by 2: {e, 2e, 4e, ...}. */
export function cyclotomicCoset(e: number, n: number): number[] {
  const coset: number[] = [];
  let x = e % n;
  while (!coset.includes(x)) {
    coset.push(x);
    x = (2 * x) % n;
  }
  return coset;
}

/** Minimal polynomial over GF(2) of alpha^e: prod over its coset of (x - alpha^j). Binary coefficients. */
export function minimalPolynomial(field: GaloisField, e: number): Uint8Array {
  let poly: number[] = [1];
  for (const j of cyclotomicCoset(e, field.order)) {
    const root = field.alphaPow(j);
    const next = new Array<number>(poly.length + 1).fill(0);
    for (let i = 0; i < poly.length; i++) {
      next[i + 1] = next[i + 1]! ^ poly[i]!;
      next[i] = next[i]! ^ field.mul(poly[i]!, root);
    }
    poly = next;
  }
  for (const c of poly) {
    if (c > 1) throw new InvalidPufParameterError('minimal polynomial is not binary', { e });
  }
  return Uint8Array.from(poly);
}

/** g(x) = lcm of minimal polynomials of alpha^1..alpha^2t (one per distinct coset). */
export function bchGeneratorPolynomial(field: GaloisField, t: number): Uint8Array {
  const seen = new Set<number>();
  let g: Uint8Array = Uint8Array.of(1);
  for (let e = 1; e <= 2 * t; e++) {
    const coset = cyclotomicCoset(e, field.order);
    const leader = Math.min(...coset);
    if (seen.has(leader)) continue;
    seen.add(leader);
    g = multiplyBinaryPolynomials(g, minimalPolynomial(field, leader));
  }
  return g;
}

export function multiplyBinaryPolynomials(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length - 1);
  for (let i = 0; i < a.length; i++) {
    if (a[i] === 0) continue;
    for (let j = 0; j < b.length; j++) out[i + j]! ^= b[j]!;
  }
  return out;
}

/** BCH(255,131,t=18): the outer code of tunnelkey's fuzzy extractor. */
export const BCH_255_131_18: BchParameters = { m: 8, t: 18 };
