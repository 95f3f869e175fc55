import { readFile } from 'node:fs/promises';
import { importVerifyKey, type CryptoKey } from '@tunnelkey/device-protocol';
import { PlatformPublicKeyError } from '../errors.js';

/** The platform's downlink-signing public key a device pins at the factory, with its key id. */
export interface PinnedPlatformKey {
  /** `platform-<id>`: envelopes signed under another key id are refused. */
  keyId: string;
  publicKey: CryptoKey;
}

export const defaultPlatformKeyId = 'platform-1';

/** SPKI DER bytes from PEM text, base64 text or DER bytes. */
function spkiBytes(input: Uint8Array | string): Uint8Array {
  const text = typeof input === 'string' ? input : input[0] === 0x30 ? undefined : new TextDecoder().decode(input);
  if (text === undefined) return input as Uint8Array;
  const pem = /-----BEGIN PUBLIC KEY-----([\s\S]*?)-----END PUBLIC KEY-----/.exec(text);
  if (text.includes('-----BEGIN') && !pem) throw new PlatformPublicKeyError('PEM input is not a PUBLIC KEY block');
  return new Uint8Array(Buffer.from((pem ? pem[1]! : text).replace(/\s/g, ''), 'base64'));
}

/** Pins a P-256 platform public key given as SPKI PEM, base64 or DER, or as a CryptoKey. */
export async function pinPlatformKey(
  key: CryptoKey | Uint8Array | string,
  keyId = defaultPlatformKeyId,
): Promise<PinnedPlatformKey> {
  if (!/^platform-[a-z0-9-]{1,32}$/.test(keyId))
    throw new PlatformPublicKeyError('platform key id must look like platform-<id>', { keyId });
  if (typeof key !== 'string' && !(key instanceof Uint8Array)) return { keyId, publicKey: key };
  try {
    return { keyId, publicKey: await importVerifyKey(spkiBytes(key)) };
  } catch (error) {
    if (error instanceof PlatformPublicKeyError) throw error;
    throw new PlatformPublicKeyError('platform public key is not a P-256 SubjectPublicKeyInfo', {}, { cause: error });
  }
}

/** Reads PLATFORM_PUBLIC_KEY_FILE / --platform-key-file (SPKI PEM or DER). */
export async function loadPlatformPublicKeyFile(
  path: string,
  keyId = defaultPlatformKeyId,
): Promise<PinnedPlatformKey> {
  const bytes = await readFile(path).catch((error: unknown) => {
    throw new PlatformPublicKeyError('platform public key file cannot be read', { path }, { cause: error });
  });
  return pinPlatformKey(new Uint8Array(bytes), keyId);
}
