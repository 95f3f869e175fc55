import { readFile } from 'node:fs/promises';
import type { webcrypto } from 'node:crypto';
import { subtle, type CryptoKey } from './crypto-key.js';

/**
 * The platform's downlink signing key: every message the platform sends to a device's inbox is
 * signed with it, and devices pin its public key. Services that talk to devices (registry, CA,
 * onboarding, OTA) load the same key; it never appears in an event, a log line or an error.
 */
export interface PlatformKey {
  /** `platform-<id>`, the envelope's keyId. */
  keyId: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** SPKI DER, what devices are provisioned with. */
  publicKeySpki: Uint8Array;
}

export class PlatformKeyError extends Error {
  override readonly name = 'PlatformKeyError';
  readonly code = 'PLATFORM_KEY';
}

const algorithm = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const keyIdPattern = /^platform-[a-z0-9-]{1,32}$/;

async function fromPkcs8(keyId: string, pkcs8: Uint8Array): Promise<PlatformKey> {
  if (!keyIdPattern.test(keyId)) throw new PlatformKeyError(`platform key id must match ${keyIdPattern.source}`);
  let privateKey: CryptoKey;
  let jwk: webcrypto.JsonWebKey;
  try {
    // Import extractable once to compute the public half, then keep only a non-extractable copy.
    const extractable = await subtle.importKey('pkcs8', pkcs8, algorithm, true, ['sign']);
    jwk = await subtle.exportKey('jwk', extractable);
    privateKey = await subtle.importKey('pkcs8', pkcs8, algorithm, false, ['sign']);
  } catch (error) {
    throw new PlatformKeyError('platform key is not a P-256 PKCS#8 private key', { cause: error });
  }
  const { d: _d, key_ops: _ops, ...publicJwk } = jwk;
  const publicKey = await subtle.importKey('jwk', { ...publicJwk, key_ops: ['verify'] }, algorithm, true, ['verify']);
  const publicKeySpki = new Uint8Array(await subtle.exportKey('spki', publicKey));
  return { keyId, privateKey, publicKey, publicKeySpki };
}

/**
 * Loads the key from PLATFORM_KEY_FILE (PKCS#8 PEM or DER) or PLATFORM_KEY (base64 PKCS#8), with
 * PLATFORM_KEY_ID (default `platform-1`). Returns undefined when neither is set.
 */
export async function loadPlatformKey(
  env: Record<string, string | undefined> = process.env,
): Promise<PlatformKey | undefined> {
  const keyId = env.PLATFORM_KEY_ID ?? 'platform-1';
  if (env.PLATFORM_KEY_FILE) {
    const raw = await readFile(env.PLATFORM_KEY_FILE).catch((error: unknown) => {
      throw new PlatformKeyError('PLATFORM_KEY_FILE cannot be read', { cause: error });
    });
    const text = raw.toString('utf8');
    const der = text.includes('-----BEGIN') ? Buffer.from(text.replace(/-----[^-]+-----|\s/g, ''), 'base64') : raw;
    return fromPkcs8(keyId, der);
  }
  if (env.PLATFORM_KEY) return fromPkcs8(keyId, Buffer.from(env.PLATFORM_KEY, 'base64'));
  return undefined;
}

/** A fresh key, for tests and the single-machine demo; returns the PKCS#8 so other processes can load it. */
export async function generatePlatformKey(keyId = 'platform-1'): Promise<{ key: PlatformKey; pkcs8: Uint8Array }> {
  const pair = await subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const pkcs8 = new Uint8Array(await subtle.exportKey('pkcs8', pair.privateKey));
  return { key: await fromPkcs8(keyId, pkcs8), pkcs8 };
}
