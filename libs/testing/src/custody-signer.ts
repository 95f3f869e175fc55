/** A P-256 key pair a test signs custody statements with, as an owner registers it (SPKI base64, its SHA-256 hex digest). */
import { createHash, webcrypto } from 'node:crypto';

export interface CustodySigner {
  privateKey: webcrypto.CryptoKey;
  publicKey: string;
  keyDigest: string;
}

export async function custodySigner(): Promise<CustodySigner> {
  const pair = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const spki = Buffer.from(await webcrypto.subtle.exportKey('spki', pair.publicKey));
  return {
    privateKey: pair.privateKey,
    publicKey: spki.toString('base64'),
    keyDigest: createHash('sha256').update(spki).digest('hex'),
  };
}
