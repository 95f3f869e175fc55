/**
 * CA private keys at rest: PKCS#8 sealed with AES-256-GCM under the KEK.
 *
 * Format v1 (binary): "TKCK" | 0x01 | kekId (8) | iv (12) | ciphertext || tag (16)
 * AAD: the 25 header bytes || "tunnelkey:ca-key:v1:" || caId — so a blob cannot be swapped onto
 * another CA, and the header (version, KEK id) cannot be edited without failing authentication.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { secureRandom, subtle, type CryptoKey } from '../engine.js';
import { asBytes, bytesEqual, concatBytes, fromHex, toHex } from '../encoding/bytes.js';
import { InvalidPkiInputError, KeyUnwrapError } from '../errors.js';
import { type RandomSource } from '../serial.js';
import { generateP256KeyPair, WebCryptoSigner } from '../signer/webcrypto-signer.js';
import type { Kek } from './kek.js';

const MAGIC = new Uint8Array([0x54, 0x4b, 0x43, 0x4b]); // "TKCK"
const VERSION = 0x01;
const HEADER_BYTES = 4 + 1 + 8 + 12;
const TAG_BYTES = 16;

const aad = (header: Uint8Array, caId: string) =>
  concatBytes(header, new TextEncoder().encode(`tunnelkey:ca-key:v1:${caId}`));

const assertCaId = (caId: string) => {
  if (!/^[A-Za-z0-9._:-]{1,128}$/.test(caId))
    throw new InvalidPkiInputError('CA id must be 1..128 of [A-Za-z0-9._:-]', {});
};

export interface WrapRequest {
  /** PKCS#8 DER, or an extractable private CryptoKey. */
  privateKey: Uint8Array | CryptoKey;
  kek: Kek;
  caId: string;
  /** IV source; injectable for known-answer tests only. */
  random?: RandomSource;
}

export const wrapCaPrivateKey = async (req: WrapRequest): Promise<Uint8Array> => {
  assertCaId(req.caId);
  const pkcs8 =
    req.privateKey instanceof Uint8Array ? req.privateKey : asBytes(await subtle.exportKey('pkcs8', req.privateKey));
  const iv = (req.random ?? secureRandom)(12);
  const header = concatBytes(MAGIC, new Uint8Array([VERSION]), fromHex(req.kek.id), iv);
  const sealed = await subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: aad(header, req.caId), tagLength: 128 },
    req.kek.key,
    pkcs8,
  );
  if (!(req.privateKey instanceof Uint8Array)) pkcs8.fill(0);
  return concatBytes(header, asBytes(sealed));
};

export interface UnwrappedCaKey {
  /** ECDSA P-256, non-extractable, usage sign only. */
  privateKey: CryptoKey;
  publicKeySpki: Uint8Array;
}

export const unwrapCaPrivateKey = async (req: {
  wrapped: Uint8Array;
  kek: Kek;
  caId: string;
}): Promise<UnwrappedCaKey> => {
  const context = { caId: req.caId };
  const w = req.wrapped;
  if (w.length < HEADER_BYTES + TAG_BYTES + 1 || !bytesEqual(w.subarray(0, 4), MAGIC)) {
    throw new KeyUnwrapError('MALFORMED', 'not a wrapped CA key', context);
  }
  if (w[4] !== VERSION)
    throw new KeyUnwrapError('UNSUPPORTED_VERSION', 'unsupported wrapped key version', { ...context, version: w[4] });
  const header = w.subarray(0, HEADER_BYTES);
  const kekId = toHex(w.subarray(5, 13));
  if (kekId !== req.kek.id) {
    // Ids are public fingerprints: saying which KEK is expected helps operators during rotation.
    throw new KeyUnwrapError('KEK_MISMATCH', 'wrapped key was sealed under a different KEK', {
      ...context,
      expectedKekId: kekId,
      kekId: req.kek.id,
    });
  }
  let pkcs8: Uint8Array;
  try {
    pkcs8 = asBytes(
      await subtle.decrypt(
        { name: 'AES-GCM', iv: w.subarray(13, HEADER_BYTES), additionalData: aad(header, req.caId), tagLength: 128 },
        req.kek.key,
        w.subarray(HEADER_BYTES),
      ),
    );
  } catch (e) {
    throw new KeyUnwrapError(
      'AUTHENTICATION_FAILED',
      'wrapped key failed authentication (tampered, or another CA id)',
      context,
      { cause: e },
    );
  }
  try {
    const keyObject = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
    if (keyObject.asymmetricKeyType !== 'ec' || keyObject.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new KeyUnwrapError('BAD_KEY', 'wrapped key is not an EC P-256 key', context);
    }
    const publicKeySpki = new Uint8Array(createPublicKey(keyObject).export({ type: 'spki', format: 'der' }));
    const privateKey = await subtle.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
    return { privateKey, publicKeySpki };
  } catch (e) {
    if (e instanceof KeyUnwrapError) throw e;
    throw new KeyUnwrapError('BAD_KEY', 'wrapped key does not hold a usable PKCS#8 key', context, { cause: e });
  } finally {
    pkcs8.fill(0);
  }
};

/** Unwrap straight into a Signer: what the CA service keeps in memory. */
export const unwrapCaSigner = async (req: {
  wrapped: Uint8Array;
  kek: Kek;
  caId: string;
}): Promise<WebCryptoSigner> => {
  const { privateKey, publicKeySpki } = await unwrapCaPrivateKey(req);
  return WebCryptoSigner.create(privateKey, publicKeySpki);
};

/**
 * A new CA key: generated, sealed under the KEK, and returned as a signer whose key is
 * non-extractable (the extractable original is dropped after wrapping).
 */
export const generateWrappedCaKey = async (req: {
  kek: Kek;
  caId: string;
}): Promise<{ wrapped: Uint8Array; signer: WebCryptoSigner }> => {
  const pair = await generateP256KeyPair({ extractable: true });
  const wrapped = await wrapCaPrivateKey({ privateKey: pair.privateKey, kek: req.kek, caId: req.caId });
  return { wrapped, signer: await unwrapCaSigner({ wrapped, kek: req.kek, caId: req.caId }) };
};
