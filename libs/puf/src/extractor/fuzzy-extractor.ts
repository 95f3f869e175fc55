import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { packBits, unpackBits } from '../codes/bit-packing.js';
import { BCH_DECODING_FAILURE } from '../codes/bch-code.js';
import { ConcatenatedCodeScheme, sharedConcatenatedCode } from '../codes/concatenated-code.js';
import { InvalidPufParameterError, KeyCheckMismatchError, KeyReconstructionError } from '../errors.js';
import { HelperData, helperDataHeader } from './helper-data.js';
import { hkdfSha256 } from './hkdf-sha256.js';

/**
 * Code-offset fuzzy extractor (Dodis et al.): enrolment picks a uniformly random codeword c of
 * the concatenated code and publishes w = x XOR c; recovery decodes x' XOR w back to c.
 * The secret is c's message (262 bits), which HKDF-SHA-256 turns into a 256-bit root secret and
 * a separate key-check key. Randomness here is node's CSPRNG, never the simulation PRNG.
 */

const HKDF_SALT = Buffer.from('tunnelkey/puf/fuzzy-extractor/v1');
const HKDF_INFO = Buffer.from('tunnelkey/puf/root-secret+key-check/v1');
export const ROOT_SECRET_LENGTH = 32;

export interface Enrolment {
  helperData: HelperData;
  /** 256-bit root secret. Keep in memory only while deriving keys; never serialise. */
  rootSecret: Uint8Array;
}

/** Root secret and key-check key from the decoded message: one HKDF call, split in two. */
function expandSecret(secretBits: Uint8Array): { root: Buffer; checkKey: Buffer } {
  const ikm = packBits(secretBits);
  const okm = hkdfSha256(ikm, HKDF_SALT, HKDF_INFO, 2 * ROOT_SECRET_LENGTH);
  ikm.fill(0);
  return { root: okm.subarray(0, ROOT_SECRET_LENGTH), checkKey: okm.subarray(ROOT_SECRET_LENGTH) };
}

function keyCheckTag(checkKey: Uint8Array, scheme: ConcatenatedCodeScheme, offset: Uint8Array): Buffer {
  return createHmac('sha256', checkKey).update(helperDataHeader(scheme)).update(offset).digest();
}

/** Enrol a reference response (one bit per byte, length = the scheme's raw bit count). */
export function enrolResponse(response: Uint8Array, scheme: ConcatenatedCodeScheme): Enrolment {
  const code = sharedConcatenatedCode(scheme);
  if (response.length !== code.rawBitCount) {
    throw new InvalidPufParameterError('response length does not match the code', {
      expected: code.rawBitCount,
      actual: response.length,
    });
  }
  const secretBits = unpackBits(randomBytes(Math.ceil(code.secretBitCount / 8)), code.secretBitCount);
  const codeword = code.encode(secretBits);
  for (let i = 0; i < codeword.length; i++) codeword[i]! ^= response[i]!;
  const offset = packBits(codeword);
  codeword.fill(0);
  const { root, checkKey } = expandSecret(secretBits);
  secretBits.fill(0);
  const keyCheck = new Uint8Array(keyCheckTag(checkKey, scheme, offset));
  checkKey.fill(0);
  const rootSecret = new Uint8Array(root);
  root.fill(0);
  return { helperData: { version: 1, scheme, offset, keyCheck }, rootSecret };
}

const scratchBySize = new Map<number, { noisy: Uint8Array; secret: Uint8Array }>();
function scratchFor(rawBits: number, secretBits: number): { noisy: Uint8Array; secret: Uint8Array } {
  let s = scratchBySize.get(rawBits * 65536 + secretBits);
  if (!s) {
    s = { noisy: new Uint8Array(rawBits), secret: new Uint8Array(secretBits) };
    scratchBySize.set(rawBits * 65536 + secretBits, s);
  }
  return s;
}

/**
 * Recover the root secret from a fresh noisy response and the helper data.
 * Throws KeyReconstructionError when the code cannot decode, KeyCheckMismatchError when the
 * decoded secret does not match the key check (miscorrection or tampered helper data).
 */
export function recoverRootSecret(response: Uint8Array, helperData: HelperData): Uint8Array {
  const scheme = helperData.scheme;
  const code = sharedConcatenatedCode(scheme);
  if (response.length !== code.rawBitCount || helperData.offset.length !== Math.ceil(code.rawBitCount / 8)) {
    throw new InvalidPufParameterError('response or helper data length does not match the code', {
      expected: code.rawBitCount,
      actual: response.length,
    });
  }
  const { noisy, secret } = scratchFor(code.rawBitCount, code.secretBitCount);
  unpackBits(helperData.offset, code.rawBitCount, noisy);
  for (let i = 0; i < noisy.length; i++) noisy[i]! ^= response[i]!;
  const outcome = code.decode(noisy, secret);
  noisy.fill(0);
  if (outcome === BCH_DECODING_FAILURE) {
    secret.fill(0);
    throw new KeyReconstructionError('PUF response too noisy: error-correcting code failed', {
      repetition: scheme.repetition,
      bchBlocks: scheme.bchBlocks,
    });
  }
  const { root, checkKey } = expandSecret(secret);
  secret.fill(0);
  const tag = keyCheckTag(checkKey, scheme, helperData.offset);
  checkKey.fill(0);
  if (helperData.keyCheck.length !== tag.length || !timingSafeEqual(tag, helperData.keyCheck)) {
    root.fill(0);
    throw new KeyCheckMismatchError('key check failed: wrong reconstruction or tampered helper data');
  }
  const rootSecret = new Uint8Array(root);
  root.fill(0);
  return rootSecret;
}
