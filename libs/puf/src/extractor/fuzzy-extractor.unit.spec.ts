import { hkdfSync } from 'node:crypto';
import { SRAM_CODE_SCHEME, TUNNELLING_CODE_SCHEME } from '../codes/concatenated-code.js';
import { HelperDataFormatError, KeyCheckMismatchError, KeyReconstructionError, isPufError } from '../errors.js';
import { DeterministicPrng } from '../simulation/deterministic-prng.js';
import { enrolResponse, recoverRootSecret } from './fuzzy-extractor.js';
import {
  HelperData,
  helperDataFromBase64,
  helperDataToBase64,
  parseHelperData,
  serialiseHelperData,
} from './helper-data.js';
import { hkdfSha256 } from './hkdf-sha256.js';

const prng = DeterministicPrng.fromNumber(1234);
const flipRandom = (bits: Uint8Array, rate: number): Uint8Array => {
  const out = bits.slice();
  for (let i = 0; i < out.length; i++) if (prng.nextFloat() < rate) out[i]! ^= 1;
  return out;
};

describe('HKDF-SHA-256', () => {
  it('matches RFC 5869 test case 1', () => {
    const okm = hkdfSha256(
      Buffer.from('0b'.repeat(22), 'hex'),
      Buffer.from('000102030405060708090a0b0c', 'hex'),
      Buffer.from('f0f1f2f3f4f5f6f7f8f9', 'hex'),
      42,
    );
    expect(okm.toString('hex')).toBe(
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    );
  });

  it('matches node hkdfSync, including an empty salt', () => {
    for (const salt of [Buffer.alloc(0), Buffer.from('salt')]) {
      const ikm = Buffer.from('input key material');
      expect(hkdfSha256(ikm, salt, Buffer.from('info'), 64)).toEqual(
        Buffer.from(hkdfSync('sha256', ikm, salt, 'info', 64)),
      );
    }
  });
});

describe.each([
  ['sram', SRAM_CODE_SCHEME, 0.12],
  ['tunnelling', TUNNELLING_CODE_SCHEME, 0.02],
])('code-offset fuzzy extractor (%s)', (_name, scheme, noisyRate) => {
  const rawBits = scheme.bchBlocks * 255 * scheme.repetition;
  const reference = prng.fillBits(new Uint8Array(rawBits));
  const { helperData, rootSecret } = enrolResponse(reference, scheme);

  it('recovers the enrolled 256-bit root secret from noisy responses', () => {
    expect(rootSecret).toHaveLength(32);
    for (let i = 0; i < 20; i++)
      expect(recoverRootSecret(flipRandom(reference, noisyRate), helperData)).toEqual(rootSecret);
  });

  it('enrols the same response to different secrets (random codeword offset)', () => {
    expect(enrolResponse(reference, scheme).rootSecret).not.toEqual(rootSecret);
  });

  it('throws KeyReconstructionError for a response of another device', () => {
    const other = prng.fillBits(new Uint8Array(rawBits));
    let caught: unknown;
    try {
      recoverRootSecret(other, helperData);
    } catch (e) {
      caught = e;
    }
    // Mostly a decoding failure; a miscorrection would surface as a key-check mismatch instead.
    expect(caught instanceof KeyReconstructionError || caught instanceof KeyCheckMismatchError).toBe(true);
    expect((caught as { code: string }).code).toMatch(/^PUF_/);
  });

  it('detects every single flipped bit of the serialised helper data', () => {
    const bytes = serialiseHelperData(helperData);
    const clean = flipRandom(reference, noisyRate / 4);
    let detected = 0;
    let positions = 0;
    // Every bit of header and key check, every 7th bit of the offset (all would take long for sram).
    for (let bit = 0; bit < bytes.length * 8; bit++) {
      const inOffset = bit >= 64 && bit < (bytes.length - 32) * 8;
      if (inOffset && bit % 7 !== 0) continue;
      positions++;
      const tampered = bytes.slice();
      tampered[bit >>> 3]! ^= 1 << (bit & 7);
      try {
        recoverRootSecret(clean, parseHelperData(tampered));
      } catch (e) {
        if (
          e instanceof KeyCheckMismatchError ||
          e instanceof HelperDataFormatError ||
          e instanceof KeyReconstructionError
        )
          detected++;
        else throw e;
      }
    }
    expect(detected).toBe(positions);
  });

  it('serialises compactly, versioned, and round-trips through base64url', () => {
    const bytes = serialiseHelperData(helperData);
    expect(bytes).toHaveLength(8 + Math.ceil(rawBits / 8) + 32);
    const text = helperDataToBase64(helperData);
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    const back: HelperData = helperDataFromBase64(text);
    expect(recoverRootSecret(reference, back)).toEqual(rootSecret);
    expect(() => parseHelperData(bytes.subarray(0, bytes.length - 1))).toThrow(HelperDataFormatError);
    const wrongVersion = bytes.slice();
    wrongVersion[3] = 9;
    expect(() => parseHelperData(wrongVersion)).toThrow(/version/);
  });
});

describe('errors', () => {
  it('carry name, code and no secret material', () => {
    const scheme = TUNNELLING_CODE_SCHEME;
    const reference = prng.fillBits(new Uint8Array(510));
    const { helperData, rootSecret } = enrolResponse(reference, scheme);
    const tampered = { ...helperData, keyCheck: helperData.keyCheck.map((b) => b ^ 1) };
    try {
      recoverRootSecret(reference, tampered);
      throw new Error('expected a failure');
    } catch (e) {
      expect(isPufError(e)).toBe(true);
      const err = e as KeyCheckMismatchError;
      expect(err.name).toBe('KeyCheckMismatchError');
      expect(err.code).toBe('PUF_KEY_CHECK_MISMATCH');
      const text = `${err.message} ${JSON.stringify(err.context)}`;
      expect(text).not.toContain(Buffer.from(rootSecret).toString('hex'));
      expect(text).not.toContain(Buffer.from(rootSecret).toString('base64'));
    }
  });
});
