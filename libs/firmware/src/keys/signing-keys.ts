import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  KeyObject,
  sign,
  verify,
} from 'node:crypto';
import type { webcrypto } from 'node:crypto';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { canonicalJson } from '@tunnelkey/contracts';
import { FirmwareKeyError } from '../errors.js';

type CryptoKey = webcrypto.CryptoKey;

/**
 * The two signature schemes of firmware metadata, named as TUF names them: `ecdsa-sha2-nistp256`
 * (the TUF/securesystemslib scheme: SHA-256, DER signature) and `ml-dsa-65` (FIPS 204, pure mode,
 * empty context), the added post-quantum scheme. The platform key signs delegations with the first.
 */
export type SignatureScheme = 'ecdsa-sha2-nistp256' | 'ml-dsa-65';

/** A TUF key object (`keys` entry of root/targets delegations). */
export interface TufKey {
  keytype: 'ecdsa' | 'ml-dsa';
  scheme: SignatureScheme;
  /**
   * Hex. ECDSA: the uncompressed point (65 bytes; @tufjs/models reads this form); ML-DSA-65: the
   * 1,952-byte public key. Hex, not PEM: every string stays printable ASCII, where the canonical JSON
   * we sign (RFC 8785) and TUF's OLPC canonical JSON are the same bytes (PEM's newlines are not).
   */
  keyval: { public: string };
}

/** A public key with its TUF key id: SHA-256 (hex) of the canonical JSON of its TufKey. */
export interface FirmwarePublicKey {
  readonly scheme: SignatureScheme;
  readonly keyid: string;
  /** ECDSA: SPKI DER; ML-DSA-65: raw public key (1,952 bytes). */
  readonly publicKey: Uint8Array;
}

/**
 * A signer port: the private half can live anywhere (wrapped at rest in the OTA service, an HSM
 * later). `sign` returns the raw signature: DER for ECDSA, 3,309 bytes for ML-DSA-65.
 */
export interface FirmwareSigner {
  readonly key: FirmwarePublicKey;
  sign(bytes: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/** The OTA service's firmware-signing pair: both sign every release. */
export interface FirmwareSigningKeys {
  readonly ecdsa: FirmwareSigner;
  readonly mlDsa: FirmwareSigner;
}

/**
 * The private material of a FirmwareSigningKeys, for the caller to wrap under its KEK: the ECDSA
 * key as PKCS#8 DER and the 32-byte ML-DSA-65 keygen seed (FIPS 204 ML-DSA.KeyGen_internal(xi)).
 * Never put it in an event, a log or an error.
 */
export interface FirmwareSigningSecrets {
  readonly ecdsaPkcs8: Uint8Array;
  readonly mlDsaSeed: Uint8Array;
}

export const mlDsa65PublicKeyBytes = 1952;
export const mlDsa65SignatureBytes = 3309;

/** What precedes the uncompressed point in every P-256 SubjectPublicKeyInfo (RFC 5480). */
const p256SpkiPrefix = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');

/**
 * Parsed P-256 public keys by SPKI. Parsing one costs ~0.5 ms on Node 20 (point validation), and a
 * device sees the same few keys (platform, delegated) at every offer. Public data only, bounded.
 */
const p256Keys = new Map<string, KeyObject>();
const maxCachedKeys = 256;

/** The SPKI as a verified P-256 KeyObject (throws FirmwareKeyError when it is not one). */
export function p256KeyObject(spki: Uint8Array): KeyObject {
  const id = Buffer.from(spki).toString('base64');
  let key = p256Keys.get(id);
  if (key) return key;
  try {
    key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (error) {
    throw new FirmwareKeyError('ECDSA key is not an SPKI public key', {}, { cause: error });
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
    throw new FirmwareKeyError('ECDSA key is not on P-256');
  if (p256Keys.size >= maxCachedKeys) p256Keys.delete(p256Keys.keys().next().value!);
  p256Keys.set(id, key);
  return key;
}

function p256Point(spki: Uint8Array): Buffer {
  const jwk = p256KeyObject(spki).export({ format: 'jwk' });
  return Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
}

/** The TUF key object of a public key. */
export function tufKeyOf(scheme: SignatureScheme, publicKey: Uint8Array): TufKey {
  return scheme === 'ecdsa-sha2-nistp256'
    ? { keytype: 'ecdsa', scheme, keyval: { public: p256Point(publicKey).toString('hex') } }
    : { keytype: 'ml-dsa', scheme, keyval: { public: Buffer.from(publicKey).toString('hex') } };
}

/** TUF key id: SHA-256 over the canonical JSON of the key object. */
export function tufKeyId(key: TufKey): string {
  return createHash('sha256').update(canonicalJson(key)).digest('hex');
}

/** Checks a public key's encoding and gives it its key id. */
export function firmwarePublicKey(scheme: SignatureScheme, publicKey: Uint8Array): FirmwarePublicKey {
  if (scheme === 'ecdsa-sha2-nistp256') {
    p256KeyObject(publicKey);
  } else if (publicKey.length !== mlDsa65PublicKeyBytes) {
    throw new FirmwareKeyError('ML-DSA-65 public key has the wrong length', { scheme, length: publicKey.length });
  }
  const bytes = new Uint8Array(publicKey);
  return { scheme, keyid: tufKeyId(tufKeyOf(scheme, bytes)), publicKey: bytes };
}

/** Public key from a TUF key object (what a device reads out of a delegation). */
export function firmwarePublicKeyFromTuf(key: TufKey): FirmwarePublicKey {
  if (key.keytype === 'ecdsa' && key.scheme === 'ecdsa-sha2-nistp256' && /^04[0-9a-f]{128}$/.test(key.keyval.public))
    return firmwarePublicKey(
      key.scheme,
      new Uint8Array(Buffer.concat([p256SpkiPrefix, Buffer.from(key.keyval.public, 'hex')])),
    );
  if (key.keytype === 'ml-dsa' && key.scheme === 'ml-dsa-65' && /^[0-9a-f]{3904}$/.test(key.keyval.public))
    return firmwarePublicKey(key.scheme, new Uint8Array(Buffer.from(key.keyval.public, 'hex')));
  throw new FirmwareKeyError('unsupported TUF key type or scheme', { keytype: key.keytype, scheme: key.scheme });
}

/** ECDSA P-256 signer over a private key (a KeyObject, or a WebCrypto key, extractable or not). */
export function ecdsaP256Signer(privateKey: KeyObject | CryptoKey, publicKeySpki: Uint8Array): FirmwareSigner {
  const key = privateKey instanceof KeyObject ? privateKey : KeyObject.from(privateKey);
  const publicKey = firmwarePublicKey('ecdsa-sha2-nistp256', publicKeySpki);
  return {
    key: publicKey,
    sign: (bytes) => new Uint8Array(sign('sha256', bytes, { key, dsaEncoding: 'der' })),
  };
}

/** ML-DSA-65 signer from its 32-byte keygen seed (hedged signing, empty context). */
export function mlDsa65Signer(seed: Uint8Array): FirmwareSigner {
  if (seed.length !== 32) throw new FirmwareKeyError('ML-DSA-65 seed must be 32 bytes', { length: seed.length });
  const { secretKey, publicKey } = ml_dsa65.keygen(seed);
  return {
    key: firmwarePublicKey('ml-dsa-65', publicKey),
    sign: (bytes) => ml_dsa65.sign(bytes, secretKey),
  };
}

/** Signing keys from their secrets (after the caller unwrapped them from its KEK). */
export function firmwareSigningKeysFromSecrets(secrets: FirmwareSigningSecrets): FirmwareSigningKeys {
  let ecdsaKey: KeyObject;
  try {
    ecdsaKey = createPrivateKey({ key: Buffer.from(secrets.ecdsaPkcs8), format: 'der', type: 'pkcs8' });
  } catch (error) {
    throw new FirmwareKeyError('ECDSA signing key is not PKCS#8', {}, { cause: error });
  }
  const spki = createPublicKey(ecdsaKey).export({ format: 'der', type: 'spki' });
  return { ecdsa: ecdsaP256Signer(ecdsaKey, spki), mlDsa: mlDsa65Signer(secrets.mlDsaSeed) };
}

/** A fresh pair of firmware-signing keys and their secrets (for the caller to wrap and store). */
export function generateFirmwareSigningKeys(): { keys: FirmwareSigningKeys; secrets: FirmwareSigningSecrets } {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const secrets: FirmwareSigningSecrets = {
    ecdsaPkcs8: new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' })),
    mlDsaSeed: new Uint8Array(crypto.getRandomValues(new Uint8Array(32))),
  };
  return { keys: firmwareSigningKeysFromSecrets(secrets), secrets };
}

/** Verifies one raw signature under a firmware public key (never throws: false for anything malformed). */
export function signatureValid(key: FirmwarePublicKey, bytes: Uint8Array, signature: Uint8Array): boolean {
  try {
    if (key.scheme === 'ecdsa-sha2-nistp256')
      return verify('sha256', bytes, { key: p256KeyObject(key.publicKey), dsaEncoding: 'der' }, signature);
    return signature.length === mlDsa65SignatureBytes && ml_dsa65.verify(signature, bytes, key.publicKey);
  } catch {
    return false;
  }
}
