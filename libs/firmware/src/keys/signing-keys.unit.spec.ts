import { readFileSync } from 'node:fs';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { FirmwareKeyError } from '../errors.js';
import { opensslMlDsa65Verifies } from '../testing/openssl.test-helper.js';
import {
  firmwarePublicKey,
  firmwarePublicKeyFromTuf,
  firmwareSigningKeysFromSecrets,
  generateFirmwareSigningKeys,
  mlDsa65Signer,
  signatureValid,
  tufKeyOf,
} from './signing-keys.js';

interface Vectors {
  acvpKeyGen: { seed: string; pk: string };
  opensslSignature: { seed: string; pk: string; message: string; signature: string };
}
const vectors = JSON.parse(
  readFileSync(new URL('./fixtures/ml-dsa-65-vectors.json', import.meta.url), 'utf8'),
) as Vectors;
const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));

describe('ML-DSA-65 (FIPS 204) against independent references', () => {
  it('derives the public key NIST ACVP expects from the keyGen seed (ML-DSA-65, tcId 27)', () => {
    const signer = mlDsa65Signer(hex(vectors.acvpKeyGen.seed));
    expect(Buffer.from(signer.key.publicKey).toString('hex')).toBe(vectors.acvpKeyGen.pk);
  });

  it("accepts OpenSSL's signature (recorded fixture) and refuses it with one bit flipped", () => {
    const v = vectors.opensslSignature;
    const key = mlDsa65Signer(hex(v.seed)).key;
    expect(Buffer.from(key.publicKey).toString('hex')).toBe(v.pk);
    expect(signatureValid(key, hex(v.message), hex(v.signature))).toBe(true);
    const flipped = hex(v.signature);
    flipped[100]! ^= 0x01;
    expect(signatureValid(key, hex(v.message), flipped)).toBe(false);
    const otherMessage = hex(v.message);
    otherMessage[0]! ^= 0x01;
    expect(signatureValid(key, otherMessage, hex(v.signature))).toBe(false);
  });

  it('makes signatures that OpenSSL verifies (when this machine has OpenSSL ML-DSA through Python)', async () => {
    const signer = mlDsa65Signer(new Uint8Array(32).fill(9));
    const message = new TextEncoder().encode('{"_type":"targets","version":1}');
    const signature = await signer.sign(message);
    const verdict = await opensslMlDsa65Verifies(signer.key.publicKey, message, signature);
    if (verdict === undefined) {
      console.warn('no OpenSSL ML-DSA through python3 here: cross-check skipped, the fixture vectors still ran');
      return;
    }
    expect(verdict.ok).toBe(true);
    const bad = new Uint8Array(signature);
    bad[5]! ^= 0x80;
    expect((await opensslMlDsa65Verifies(signer.key.publicKey, message, bad))?.ok).toBe(false);
  });
});

describe('firmware signing keys', () => {
  it('come back from their secrets with the same key ids and sign the same way', async () => {
    const { keys, secrets } = generateFirmwareSigningKeys();
    const again = firmwareSigningKeysFromSecrets(secrets);
    expect(again.ecdsa.key.keyid).toBe(keys.ecdsa.key.keyid);
    expect(again.mlDsa.key.keyid).toBe(keys.mlDsa.key.keyid);
    const bytes = new TextEncoder().encode('release');
    expect(signatureValid(keys.ecdsa.key, bytes, await again.ecdsa.sign(bytes))).toBe(true);
    expect(signatureValid(keys.mlDsa.key, bytes, await again.mlDsa.sign(bytes))).toBe(true);
  });

  it('round-trip through TUF key objects (keyid = SHA-256 of the canonical key)', () => {
    const { keys } = generateFirmwareSigningKeys();
    for (const key of [keys.ecdsa.key, keys.mlDsa.key]) {
      const back = firmwarePublicKeyFromTuf(tufKeyOf(key.scheme, key.publicKey));
      expect(back.keyid).toBe(key.keyid);
      expect(back.keyid).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(keys.ecdsa.key.keyid).not.toBe(keys.mlDsa.key.keyid);
  });

  it('never verifies across schemes or under a wrong key', async () => {
    const a = generateFirmwareSigningKeys().keys;
    const b = generateFirmwareSigningKeys().keys;
    const bytes = new TextEncoder().encode('x');
    expect(signatureValid(b.ecdsa.key, bytes, await a.ecdsa.sign(bytes))).toBe(false);
    expect(signatureValid(b.mlDsa.key, bytes, await a.mlDsa.sign(bytes))).toBe(false);
    expect(signatureValid(a.mlDsa.key, bytes, await a.ecdsa.sign(bytes))).toBe(false);
    expect(signatureValid(a.ecdsa.key, bytes, await a.mlDsa.sign(bytes))).toBe(false);
    expect(ml_dsa65.lengths.signature).toBe(3309);
  });

  it('refuse unusable public keys with a typed error', () => {
    expect(() => firmwarePublicKey('ml-dsa-65', new Uint8Array(10))).toThrow(FirmwareKeyError);
    expect(() => firmwarePublicKey('ecdsa-sha2-nistp256', new Uint8Array(91))).toThrow(FirmwareKeyError);
    expect(() => mlDsa65Signer(new Uint8Array(31))).toThrow(FirmwareKeyError);
    expect(() =>
      firmwareSigningKeysFromSecrets({ ecdsaPkcs8: new Uint8Array(5), mlDsaSeed: new Uint8Array(32) }),
    ).toThrow(FirmwareKeyError);
  });
});
