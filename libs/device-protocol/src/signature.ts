import { subtle, type CryptoKey } from './crypto-key.js';
import { canonicalBytes, signedBytesOf, type DeviceEnvelope, type UnsignedDeviceEnvelope } from '@tunnelkey/contracts';

const ecdsa = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** Signs an envelope with a P-256 key (IEEE P1363 r||s, base64), over contracts' canonical bytes. */
export async function signEnvelope<K extends string, B>(
  unsigned: UnsignedDeviceEnvelope<K, B>,
  privateKey: CryptoKey,
): Promise<DeviceEnvelope<K, B>> {
  const signature = await subtle.sign(ecdsa, privateKey, canonicalBytes(unsigned));
  return { ...unsigned, signature: Buffer.from(signature).toString('base64') };
}

/** True when the envelope's signature verifies under the public key. */
export async function envelopeSignatureValid(envelope: DeviceEnvelope, publicKey: CryptoKey): Promise<boolean> {
  const signature = Buffer.from(envelope.signature, 'base64');
  return subtle.verify(ecdsa, publicKey, signature, signedBytesOf(envelope));
}

/** Signs arbitrary labelled bytes (e.g. a TLS key attestation) the same way. */
export async function signBytes(bytes: Uint8Array, privateKey: CryptoKey): Promise<string> {
  return Buffer.from(await subtle.sign(ecdsa, privateKey, bytes)).toString('base64');
}

export async function bytesSignatureValid(
  bytes: Uint8Array,
  signature: string,
  publicKey: CryptoKey,
): Promise<boolean> {
  return subtle.verify(ecdsa, publicKey, Buffer.from(signature, 'base64'), bytes);
}

/** Imports a P-256 SPKI (DER bytes or base64) as a verify-only key. */
export async function importVerifyKey(spki: Uint8Array | string): Promise<CryptoKey> {
  const der = typeof spki === 'string' ? Buffer.from(spki, 'base64') : spki;
  return subtle.importKey('spki', der, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
}
