import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  KeyObject,
} from 'node:crypto';
import type { webcrypto } from 'node:crypto';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { FirmwareDecryptionError, FirmwareFormatError, FirmwareKeyError } from '../errors.js';
import { CONTENT_KEY_BYTES } from './image-encryption.js';

type CryptoKey = webcrypto.CryptoKey;

/**
 * Wrapping a rollout's content key for one device with a hybrid KEM: ECDH P-256 (ephemeral-static,
 * against the device's PUF-derived ECDH key) and ML-KEM-768 (FIPS 203, against its PUF-derived
 * encapsulation key). Combiner (docs/decisions/0002-firmware-encryption-hybrid-kem.md):
 *
 *   transcript = SHA-256( lp(label) || lp(ct_mlkem) || lp(ephemeral P-256 point) ||
 *                         lp(device P-256 point) || lp(device ML-KEM key) || lp(deviceId) || lp(rolloutId) )
 *   KEK = HKDF-SHA-256(ikm = ss_mlkem || ss_ecdh, salt = label, info = transcript, 32 bytes)
 *   wrapped = AES-256-GCM(KEK, nonce = 0^96, aad = transcript, contentKey)
 *
 * where lp(x) = uint32be(len x) || x and label = "tunnelkey/firmware/hybrid-kem/v1". The KEK is
 * secret while either shared secret is; binding both ciphertexts and both public keys (and the
 * device and rollout) means a wrap cannot be moved to another device, rollout or key pair.
 *
 * Wire form (base64 in messages): 0x01 || ephemeral P-256 point (65) || ML-KEM-768 ciphertext
 * (1,088) || wrapped key (48): 1,202 bytes.
 */
export const HYBRID_KEM_SCHEME = 'p256-mlkem768-hkdf-sha256/v1';
const label = Buffer.from('tunnelkey/firmware/hybrid-kem/v1');
const formatVersion = 0x01;
const pointBytes = 65;
export const mlKem768PublicKeyBytes = 1184;
const mlKemCiphertextBytes = 1088;
const wrappedBytes = CONTENT_KEY_BYTES + 16;
export const wrappedContentKeyBytes = 1 + pointBytes + mlKemCiphertextBytes + wrappedBytes;
const zeroNonce = Buffer.alloc(12);

/** A device's two public encryption keys, as the platform learned them at enrolment. */
export interface DeviceEncryptionKeys {
  /** SPKI DER of the PUF-derived ECDH P-256 key. */
  ecdhPublicKey: Uint8Array;
  /** ML-KEM-768 encapsulation key (1,184 bytes). */
  mlKemPublicKey: Uint8Array;
}

/** The device's side of ML-KEM: the decapsulation key stays inside (e.g. a closure over the PUF-derived key). */
export interface MlKemDecapsulator {
  readonly publicKey: Uint8Array;
  decapsulate(cipherText: Uint8Array): Uint8Array;
}

/** The device's private halves, re-derived from its PUF for the unwrap and then dropped. */
export interface DeviceDecryptionKeys {
  ecdh: { privateKey: CryptoKey | KeyObject; publicKeySpki: Uint8Array };
  mlKem: MlKemDecapsulator;
}

/** Whom a wrap is for: bound into the KEK and the wrap's additional data. */
export interface WrapContext {
  deviceId: string;
  rolloutId: string;
}

function lp(bytes: Uint8Array): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}
const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

function pointOf(spki: Uint8Array): { key: KeyObject; point: Buffer } {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (error) {
    throw new FirmwareKeyError('device ECDH key is not an SPKI public key', {}, { cause: error });
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
    throw new FirmwareKeyError('device ECDH key is not on P-256');
  const jwk = key.export({ format: 'jwk' });
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  return { key, point };
}

function transcriptOf(
  mlKemCiphertext: Uint8Array,
  ephemeralPoint: Uint8Array,
  devicePoint: Uint8Array,
  mlKemPublicKey: Uint8Array,
  context: WrapContext,
): Buffer {
  return createHash('sha256')
    .update(lp(label))
    .update(lp(mlKemCiphertext))
    .update(lp(ephemeralPoint))
    .update(lp(devicePoint))
    .update(lp(mlKemPublicKey))
    .update(lp(utf8(context.deviceId)))
    .update(lp(utf8(context.rolloutId)))
    .digest();
}

function kekOf(mlKemSecret: Uint8Array, ecdhSecret: Uint8Array, transcript: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.concat([mlKemSecret, ecdhSecret]), label, transcript, 32));
}

/**
 * Wraps `contentKey` for one device. Throws FirmwareKeyError when either device key is unusable
 * (then the device cannot be offered the update: say so, never fall back to one algorithm).
 */
export function wrapContentKey(contentKey: Uint8Array, device: DeviceEncryptionKeys, context: WrapContext): Uint8Array {
  if (contentKey.length !== CONTENT_KEY_BYTES)
    throw new FirmwareFormatError('content key must be 32 bytes', { length: contentKey.length });
  if (device.mlKemPublicKey.length !== mlKem768PublicKeyBytes)
    throw new FirmwareKeyError('device ML-KEM-768 key has the wrong length', { length: device.mlKemPublicKey.length });
  const { key: deviceKey, point: devicePoint } = pointOf(device.ecdhPublicKey);
  let encapsulated: { cipherText: Uint8Array; sharedSecret: Uint8Array };
  try {
    encapsulated = ml_kem768.encapsulate(device.mlKemPublicKey);
  } catch (error) {
    throw new FirmwareKeyError('device ML-KEM-768 key is not a valid encapsulation key', {}, { cause: error });
  }
  const ephemeral = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const ecdhSecret = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: deviceKey });
  const ephemeralPoint = ephemeral.publicKey.export({ format: 'der', type: 'spki' }).subarray(26);
  const transcript = transcriptOf(encapsulated.cipherText, ephemeralPoint, devicePoint, device.mlKemPublicKey, context);
  const kek = kekOf(encapsulated.sharedSecret, ecdhSecret, transcript);
  encapsulated.sharedSecret.fill(0);
  ecdhSecret.fill(0);
  const cipher = createCipheriv('aes-256-gcm', kek, zeroNonce);
  cipher.setAAD(transcript);
  const sealed = Buffer.concat([cipher.update(contentKey), cipher.final(), cipher.getAuthTag()]);
  kek.fill(0);
  const out = new Uint8Array(wrappedContentKeyBytes);
  out[0] = formatVersion;
  out.set(ephemeralPoint, 1);
  out.set(encapsulated.cipherText, 1 + pointBytes);
  out.set(sealed, 1 + pointBytes + mlKemCiphertextBytes);
  return out;
}

/**
 * The device side: decapsulates both, recombines, opens the wrap. Throws FirmwareDecryptionError
 * when the wrap was not made for these keys and this context (another device's wrap, a tampered
 * wrap), FirmwareFormatError when it is not a wrap at all.
 */
export function unwrapContentKey(wrapped: Uint8Array, keys: DeviceDecryptionKeys, context: WrapContext): Uint8Array {
  if (wrapped.length !== wrappedContentKeyBytes || wrapped[0] !== formatVersion)
    throw new FirmwareFormatError('not a wrapped content key', { length: wrapped.length });
  const ephemeralPoint = wrapped.subarray(1, 1 + pointBytes);
  const mlKemCiphertext = wrapped.subarray(1 + pointBytes, 1 + pointBytes + mlKemCiphertextBytes);
  const sealed = wrapped.subarray(1 + pointBytes + mlKemCiphertextBytes);
  const devicePoint = pointOf(keys.ecdh.publicKeySpki).point;
  let ecdhSecret: Buffer;
  try {
    const ephemeralKey = createPublicKey({
      key: { kty: 'EC', crv: 'P-256', ...xy(ephemeralPoint) },
      format: 'jwk',
    });
    const privateKey =
      keys.ecdh.privateKey instanceof KeyObject ? keys.ecdh.privateKey : KeyObject.from(keys.ecdh.privateKey);
    ecdhSecret = diffieHellman({ privateKey, publicKey: ephemeralKey });
  } catch (error) {
    throw new FirmwareDecryptionError('ephemeral ECDH key is not usable', {}, { cause: error });
  }
  // ML-KEM decapsulation never fails: a foreign ciphertext yields an unrelated secret (implicit rejection).
  const mlKemSecret = keys.mlKem.decapsulate(mlKemCiphertext);
  const transcript = transcriptOf(mlKemCiphertext, ephemeralPoint, devicePoint, keys.mlKem.publicKey, context);
  const kek = kekOf(mlKemSecret, ecdhSecret, transcript);
  mlKemSecret.fill(0);
  ecdhSecret.fill(0);
  const decipher = createDecipheriv('aes-256-gcm', kek, zeroNonce);
  decipher.setAAD(transcript);
  decipher.setAuthTag(sealed.subarray(CONTENT_KEY_BYTES));
  try {
    const key = Buffer.concat([decipher.update(sealed.subarray(0, CONTENT_KEY_BYTES)), decipher.final()]);
    return new Uint8Array(key.buffer, key.byteOffset, key.length);
  } catch (error) {
    throw new FirmwareDecryptionError('wrapped content key does not open with this device key', {}, { cause: error });
  } finally {
    kek.fill(0);
  }
}

function xy(point: Uint8Array): { x: string; y: string } {
  if (point.length !== pointBytes || point[0] !== 4) throw new FirmwareDecryptionError('ephemeral point is malformed');
  return {
    x: Buffer.from(point.subarray(1, 33)).toString('base64url'),
    y: Buffer.from(point.subarray(33)).toString('base64url'),
  };
}
