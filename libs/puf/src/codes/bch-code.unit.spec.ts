import { DeterministicPrng } from '../simulation/deterministic-prng.js';
import { BCH_255_131_18, BCH_DECODING_FAILURE, BchCode, cyclotomicCoset } from './bch-code.js';
import { GaloisField } from './galois-field.js';

const bitsFromPoly = (n: number, degrees: number[]): Uint8Array => {
  const w = new Uint8Array(n);
  for (const d of degrees) w[d] = 1;
  return w;
};
const degreesOf = (w: Uint8Array): number[] => [...w.keys()].filter((i) => w[i] === 1);

describe('GF(2^m)', () => {
  it('builds GF(16) from x^4 + x + 1 with alpha^4 = alpha + 1 and alpha^15 = 1', () => {
    const f = new GaloisField(4, 0b10011);
    expect(f.exp[4]).toBe(0b0011);
    expect(f.alphaPow(15)).toBe(1);
    expect(f.mul(f.alphaPow(7), f.alphaPow(9))).toBe(f.alphaPow(1));
    expect(f.div(f.alphaPow(3), f.alphaPow(5))).toBe(f.alphaPow(13));
  });

  it('rejects a non-primitive polynomial', () => {
    // x^4 + x^3 + x^2 + x + 1 is irreducible but has order 5, not 15.
    expect(() => new GaloisField(4, 0b11111)).toThrow(/not primitive/);
  });
});

describe('BCH(15,7,t=2): textbook vectors', () => {
  const code = new BchCode({ m: 4, t: 2 });

  it('has generator g(x) = 1 + x^4 + x^6 + x^7 + x^8 and k = 7', () => {
    expect(code.k).toBe(7);
    expect(degreesOf(code.generator)).toEqual([0, 4, 6, 7, 8]);
  });

  it('encodes message 1 to the generator itself (systematic: parity 0..7, message 8..14)', () => {
    const c = code.encode(bitsFromPoly(7, [0]));
    expect(degreesOf(c)).toEqual([0, 4, 6, 7, 8]);
  });

  it('encodes message x^6 to x^14 + (x^14 mod g) = x^14 + x^7 + x^6 + x^5 + x^3', () => {
    // Hand division with x^8 = x^7+x^6+x^4+1: x^11 = x^4+x^3+x^2+1, x^14 = x^7+x^6+x^5+x^3.
    const c = code.encode(bitsFromPoly(7, [6]));
    expect(code.isCodeword(c)).toBe(true);
    expect(degreesOf(c)).toEqual([3, 5, 6, 7, 14]);
  });

  it('corrects every single and double error pattern of a codeword', () => {
    const msg = bitsFromPoly(7, [1, 3, 4]);
    const c = code.encode(msg);
    for (let i = 0; i < 15; i++) {
      for (let j = i; j < 15; j++) {
        const w = c.slice();
        w[i]! ^= 1;
        if (j !== i) w[j]! ^= 1;
        expect(code.decodeInPlace(w)).toBe(i === j ? 1 : 2);
        expect(w).toEqual(c);
      }
    }
  });
});

describe('BCH(15,5,t=3): Lin & Costello worked example', () => {
  const code = new BchCode({ m: 4, t: 3 });
  const f = code.field;

  it('r(x) = x^3 + x^5 + x^12 has S1=1, S2=1, S3=a^10, S4=1, S5=a^10, S6=a^5 and is corrected to 0', () => {
    expect(code.k).toBe(5);
    const r = bitsFromPoly(15, [3, 5, 12]);
    const s = code.syndromesOf(r);
    expect([...s.subarray(1, 7)]).toEqual([1, 1, f.alphaPow(10), 1, f.alphaPow(10), f.alphaPow(5)]);
    expect(code.decodeInPlace(r)).toBe(3);
    expect(degreesOf(r)).toEqual([]);
  });
});

describe('BCH(255,131,t=18)', () => {
  const code = new BchCode(BCH_255_131_18);
  const prng = DeterministicPrng.fromNumber(255131);

  const randomMessage = () => prng.fillBits(new Uint8Array(code.k));
  const flipDistinct = (w: Uint8Array, count: number) => {
    const chosen = new Set<number>();
    while (chosen.size < count) chosen.add(prng.nextInt(code.n));
    for (const p of chosen) w[p]! ^= 1;
  };

  it('has a generator of degree 124 built from 16 minimal polynomials (15 of degree 8, one of degree 4)', () => {
    expect(code.n).toBe(255);
    expect(code.k).toBe(131);
    expect(code.generator.length - 1).toBe(124);
    const leaders = new Set<number>();
    for (let e = 1; e <= 36; e++) leaders.add(Math.min(...cyclotomicCoset(e, 255)));
    expect(leaders.size).toBe(16);
    expect(cyclotomicCoset(17, 255)).toHaveLength(4);
  });

  it('generator has roots alpha^1..alpha^36 and divides x^255 - 1', () => {
    const f = code.field;
    for (let i = 1; i <= 36; i++) {
      let acc = 0;
      code.generator.forEach((c, d) => {
        if (c) acc ^= f.alphaPow(i * d);
      });
      expect(acc).toBe(0);
    }
    // x^255 - 1 mod g(x) by long division over GF(2).
    const rem = new Uint8Array(256);
    rem[0] = 1;
    rem[255] = 1;
    for (let d = 255; d >= 124; d--) {
      if (rem[d]) for (let j = 0; j <= 124; j++) rem[d - 124 + j]! ^= code.generator[j]!;
    }
    expect(rem.some((b) => b !== 0)).toBe(false);
  });

  it('decodes 300 random codewords with exactly t = 18 random errors back to the codeword', () => {
    for (let trial = 0; trial < 300; trial++) {
      const msg = randomMessage();
      const c = code.encode(msg);
      expect(code.isCodeword(c)).toBe(true);
      const w = c.slice();
      flipDistinct(w, 18);
      expect(code.decodeInPlace(w)).toBe(18);
      expect(code.extractMessage(w)).toEqual(msg);
    }
  });

  it('corrects any 0..18 errors and never reports success with a non-codeword beyond t', () => {
    let detected = 0;
    for (let trial = 0; trial < 300; trial++) {
      const c = code.encode(randomMessage());
      const errors = 19 + (trial % 20);
      const w = c.slice();
      flipDistinct(w, errors);
      const before = w.slice();
      const outcome = code.decodeInPlace(w);
      if (outcome === BCH_DECODING_FAILURE) {
        detected++;
        expect(w).toEqual(before); // a failed decode leaves the word untouched
      } else {
        // A bounded-distance decoder may only land on another codeword (miscorrection);
        // the fuzzy extractor's key check catches that case.
        expect(code.isCodeword(w)).toBe(true);
        expect(w).not.toEqual(c);
      }
    }
    expect(detected).toBeGreaterThan(290);
  });

  it('returns 0 corrections for a clean codeword', () => {
    const c = code.encode(randomMessage());
    expect(code.decodeInPlace(c.slice())).toBe(0);
  });
});
