import { DeterministicPrng } from '../simulation/deterministic-prng.js';
import { hammingDistanceBits, hammingDistanceBytes, packBits, unpackBits } from './bit-packing.js';
import { SRAM_CODE_SCHEME, TUNNELLING_CODE_SCHEME, sharedConcatenatedCode } from './concatenated-code.js';
import { RepetitionCode } from './repetition-code.js';

describe('Rep(7)', () => {
  const rep = new RepetitionCode(7);

  it('decodes by majority: up to 3 flips per block are corrected, 4 are not', () => {
    const word = rep.encode(Uint8Array.of(1, 0));
    word[0] = 0;
    word[1] = 0;
    word[2] = 0; // 3 flips in block 0
    word[7] = 1;
    word[8] = 1;
    word[9] = 1;
    word[10] = 1; // 4 flips in block 1
    expect([...rep.decode(word, new Uint8Array(2))]).toEqual([1, 1]);
  });

  it('rejects an even repetition factor', () => {
    expect(() => new RepetitionCode(6)).toThrow(/odd/);
  });
});

describe('concatenated codes', () => {
  const prng = DeterministicPrng.fromNumber(77);

  it.each([
    ['sram', SRAM_CODE_SCHEME, 4590],
    ['tunnelling', TUNNELLING_CODE_SCHEME, 510],
  ])('%s: %#', (_name, scheme, rawBits) => {
    const code = sharedConcatenatedCode(scheme);
    expect(code.rawBitCount).toBe(rawBits);
    expect(code.secretBitCount).toBe(262);
    const secret = prng.fillBits(new Uint8Array(262));
    const cw = code.encode(secret);
    // 18 outer errors per block, each as a fully flipped repetition block, plus sub-majority noise.
    const r = scheme.repetition;
    for (let b = 0; b < 2; b++) {
      for (let e = 0; e < 18; e++) {
        const block = b * 255 + e * 13;
        for (let j = 0; j < r; j++) cw[block * r + j]! ^= 1;
      }
      if (r > 1) for (let e = 0; e < 255; e += 2) cw[(b * 255 + e) * r + 3]! ^= 1; // 1 of 7 bits
    }
    const out = new Uint8Array(262);
    expect(code.decode(cw, out)).toBe(36);
    expect(out).toEqual(secret);
  });
});

describe('bit packing', () => {
  it('round-trips and counts distances', () => {
    const bits = DeterministicPrng.fromNumber(3).fillBits(new Uint8Array(3570));
    const packed = packBits(bits);
    expect(packed).toHaveLength(447);
    expect(unpackBits(packed, 3570)).toEqual(bits);
    const other = bits.slice();
    other[5]! ^= 1;
    other[3000]! ^= 1;
    expect(hammingDistanceBits(bits, other)).toBe(2);
    expect(hammingDistanceBytes(packed, packBits(other))).toBe(2);
  });
});
