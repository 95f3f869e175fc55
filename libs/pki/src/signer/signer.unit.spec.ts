import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { MalformedPkiObjectError, SignerError } from '../errors.js';
import { OID } from '../oids.js';
import { createCsr } from '../csr/create-csr.js';
import { derEcdsaToRaw, rawEcdsaToDer } from './ecdsa-signature.js';
import type { Signer } from './signer.js';
import { verifySignature } from './verify-signature.js';
import { generateP256KeyPair, WebCryptoSigner } from './webcrypto-signer.js';

describe('ECDSA signature encoding', () => {
  it('raw r||s <-> DER, with the 0x00 sign pad and leading-zero stripping (known answers)', () => {
    const r = new Uint8Array(32).fill(0x80); // top bit set -> 0x00 pad
    const s = new Uint8Array(32);
    s[31] = 0x01; // leading zeros -> one byte
    const der = rawEcdsaToDer(new Uint8Array([...r, ...s]), 32);
    expect(Buffer.from(der).toString('hex')).toBe(`3026022100${'80'.repeat(32)}020101`);
    expect(Buffer.from(derEcdsaToRaw(der, 32)).toString('hex')).toBe(`${'80'.repeat(32)}${'00'.repeat(31)}01`);
  });

  it('refuses non-DER signatures', () => {
    const bad = [
      '3006020100020100ff', // trailing byte
      '300702020001020101', // non-minimal r
      '3006020180020101', // negative r
      '3106020101020101', // not a SEQUENCE
      `3025022200${'11'.repeat(32)}020101`.slice(0, 20), // truncated
    ];
    for (const hex of bad)
      expect(() => derEcdsaToRaw(new Uint8Array(Buffer.from(hex, 'hex')), 32)).toThrow(MalformedPkiObjectError);
  });
});

describe('WebCryptoSigner (Signer port over a non-extractable P-256 CryptoKey)', () => {
  it('returns DER signatures that node:crypto (OpenSSL) verifies independently', async () => {
    const pair = await generateP256KeyPair();
    expect(pair.privateKey.extractable).toBe(false);
    const signer = await WebCryptoSigner.fromKeyPair(pair);
    expect(signer.algorithm).toBe('ECDSA-P256-SHA256');
    const data = new TextEncoder().encode('to be signed');
    for (let i = 0; i < 20; i++) {
      const sig = await signer.sign(data);
      expect(sig[0]).toBe(0x30);
      const key = createPublicKey({ key: Buffer.from(signer.publicKeySpki), format: 'der', type: 'spki' });
      expect(nodeVerify('sha256', data, { key, dsaEncoding: 'der' }, sig)).toBe(true);
      expect(
        await verifySignature({ spki: signer.publicKeySpki, algorithmOid: OID.ecdsaWithSha256, data, signature: sig }),
      ).toBe(true);
      expect(
        await verifySignature({
          spki: signer.publicKeySpki,
          algorithmOid: OID.ecdsaWithSha256,
          data: new Uint8Array([1]),
          signature: sig,
        }),
      ).toBe(false);
    }
  });

  it('refuses public keys as signing keys', async () => {
    const pair = await generateP256KeyPair();
    await expect(WebCryptoSigner.create(pair.publicKey, pair.publicKey)).rejects.toThrow(/private key/);
  });

  it('a failing external signer (KMS down) surfaces as SignerError with the cause kept', async () => {
    const real = await WebCryptoSigner.fromKeyPair(await generateP256KeyPair());
    const kms: Signer = {
      algorithm: real.algorithm,
      publicKeySpki: real.publicKeySpki,
      sign: () => Promise.reject(new Error('ECONNREFUSED kms')),
    };
    const err = await createCsr({ subjectCommonName: 'd-1', signer: kms }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SignerError);
    expect((err as SignerError).cause).toBeInstanceOf(Error);
  });
});
