import { generateKeyPairSync } from 'node:crypto';
import {
  InvalidPkiInputError,
  MalformedPkiObjectError,
  SignatureVerificationError,
  UnsupportedAlgorithmError,
} from '../errors.js';
import { derToPem, pemToDer } from '../encoding/pem.js';
import { spkiEqual } from '../keys/spki.js';
import { openssl, tempFiles } from '../openssl.test-helper.js';
import { generateP256KeyPair, exportSpki, WebCryptoSigner } from '../signer/webcrypto-signer.js';
import type { CryptoKeyPair } from '../engine.js';
import type { Signer } from '../signer/signer.js';
import { createCsr, createCsrWithPkijs } from './create-csr.js';
import { MAX_CSR_BYTES, parseAndVerifyCsr, parseCsr, verifyCsrSignature } from './parse-csr.js';

describe('PKCS#10 CSRs', () => {
  describe('created by a device with a non-extractable key', () => {
    let pair: CryptoKeyPair;
    let csr: Awaited<ReturnType<typeof createCsr>>;
    beforeAll(async () => {
      pair = await generateP256KeyPair();
      expect(pair.privateKey.extractable).toBe(false);
      csr = await createCsr({
        subjectCommonName: 'd-42',
        publicKey: pair.publicKey,
        signer: await WebCryptoSigner.fromKeyPair(pair),
      });
    });

    it('is accepted by openssl req -verify and shows the subject and key', async () => {
      const t = await tempFiles({ 'csr.pem': csr.pem });
      const r = await openssl(['req', '-verify', '-noout', '-text', '-in', t.path('csr.pem')]);
      await t.cleanup();
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/verify OK/);
      expect(r.stdout).toMatch(/Subject: CN = d-42\n/);
      expect(r.stdout).toMatch(/NIST CURVE: P-256/);
      expect(r.stdout).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    });

    it('parses back: subject, SPKI equal to the enrolled key, signature verifies', async () => {
      const parsed = await parseAndVerifyCsr(csr.der);
      expect(parsed.subjectCommonName).toBe('d-42');
      expect(parsed.subject).toBe('CN=d-42');
      expect(parsed.publicKey.namedCurve).toBe('P-256');
      const enrolled = await exportSpki(pair.publicKey);
      expect(spkiEqual(parsed.spki, enrolled)).toBe(true);
      const other = await exportSpki((await generateP256KeyPair()).publicKey);
      expect(spkiEqual(parsed.spki, other)).toBe(false);
      expect(pemToDer(csr.pem, 'CERTIFICATE REQUEST')).toEqual(csr.der);
    });

    it('writes the same bytes as the pkijs builder it replaced (signature fixed), for ASCII and UTF-8 names', async () => {
      const real = await WebCryptoSigner.fromKeyPair(pair);
      const signature = await real.sign(new Uint8Array([1]));
      const signed: Uint8Array[] = [];
      const constant: Signer = {
        algorithm: real.algorithm,
        publicKeySpki: real.publicKeySpki,
        sign: async (tbs) => (signed.push(tbs), signature),
      };
      for (const subjectCommonName of ['d-42', 'Kühlschrank-7']) {
        const direct = await createCsr({ subjectCommonName, signer: constant });
        const reference = await createCsrWithPkijs({ subjectCommonName, signer: constant });
        expect(Buffer.from(direct.der).toString('hex')).toBe(Buffer.from(reference.der).toString('hex'));
      }
      expect(Buffer.from(signed[0]!).equals(Buffer.from(signed[1]!))).toBe(true);
      await expect(createCsr({ subjectCommonName: 'x'.repeat(65), signer: constant })).rejects.toThrow(
        InvalidPkiInputError,
      );
      await expect(createCsr({ subjectCommonName: '', signer: constant })).rejects.toThrow(InvalidPkiInputError);
    });

    it('refuses a public key that is not the signer key', async () => {
      const other = await generateP256KeyPair();
      await expect(
        createCsr({
          subjectCommonName: 'd-42',
          publicKey: other.publicKey,
          signer: await WebCryptoSigner.fromKeyPair(pair),
        }),
      ).rejects.toBeInstanceOf(InvalidPkiInputError);
    });
  });

  describe('made by openssl (independent producer)', () => {
    it('parses and verifies', async () => {
      const t = await tempFiles({});
      const gen = await openssl([
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        t.path('k.pem'),
        '-subj',
        '/CN=d-openssl/O=acme',
        '-out',
        t.path('r.pem'),
      ]);
      expect(gen.code).toBe(0);
      const { readFile } = await import('node:fs/promises');
      const pem = await readFile(t.path('r.pem'), 'utf8');
      const pub = await openssl([
        'pkey',
        '-in',
        t.path('k.pem'),
        '-pubout',
        '-outform',
        'DER',
        '-out',
        t.path('pub.der'),
      ]);
      expect(pub.code).toBe(0);
      const spki = new Uint8Array(await readFile(t.path('pub.der')));
      await t.cleanup();
      const parsed = await parseAndVerifyCsr(pem);
      expect(parsed.subjectCommonName).toBe('d-openssl');
      expect(parsed.subject).toBe('CN=d-openssl, O=acme');
      expect(spkiEqual(parsed.spki, spki)).toBe(true);
    });
  });

  describe('bad input', () => {
    let good: Uint8Array;
    beforeAll(async () => {
      good = (
        await createCsr({
          subjectCommonName: 'd-bad',
          signer: await WebCryptoSigner.fromKeyPair(await generateP256KeyPair()),
        })
      ).der;
    });

    it('a tampered signature fails here and in openssl', async () => {
      const der = good.slice();
      der[der.length - 3]! ^= 0x40;
      await expect(parseAndVerifyCsr(der)).rejects.toBeInstanceOf(SignatureVerificationError);
      expect(await verifyCsrSignature(parseCsr(der))).toBe(false);
      const t = await tempFiles({ 'bad.pem': derToPem(der, 'CERTIFICATE REQUEST') });
      const r = await openssl(['req', '-verify', '-noout', '-in', t.path('bad.pem')]);
      await t.cleanup();
      // openssl 3.0 `req -verify` exits 0 even on failure; its verdict is on stderr.
      expect(r.stderr).toMatch(/self-signature verify failure/);
      expect(r.stderr).not.toMatch(/verify OK/);
    });

    it('a CSR signed by a key other than the one it carries fails', async () => {
      const carried = await generateP256KeyPair();
      const signingKey = await generateP256KeyPair();
      // A signer that lies about its public key: signs with one key, claims another.
      const liar = await WebCryptoSigner.create(signingKey.privateKey, carried.publicKey);
      const csr = await createCsr({ subjectCommonName: 'd-liar', signer: liar });
      await expect(parseAndVerifyCsr(csr.der)).rejects.toThrow(/does not verify/);
    });

    it('altered subject (TBS) fails', async () => {
      const der = good.slice();
      const at = Buffer.from(der).indexOf(Buffer.from('d-bad'));
      der[at + 2] = 'B'.charCodeAt(0);
      await expect(parseAndVerifyCsr(der)).rejects.toBeInstanceOf(SignatureVerificationError);
    });

    it('truncated, garbage, oversized, wrong PEM label: typed MalformedPkiObjectError', async () => {
      await expect(parseAndVerifyCsr(good.subarray(0, good.length - 10))).rejects.toBeInstanceOf(
        MalformedPkiObjectError,
      );
      await expect(parseAndVerifyCsr(new Uint8Array([1, 2, 3]))).rejects.toBeInstanceOf(MalformedPkiObjectError);
      await expect(parseAndVerifyCsr(new Uint8Array(MAX_CSR_BYTES + 1))).rejects.toThrow(/too large/);
      await expect(parseAndVerifyCsr('x'.repeat(MAX_CSR_BYTES * 3))).rejects.toThrow(/too large/);
      await expect(parseAndVerifyCsr(derToPem(good, 'CERTIFICATE'))).rejects.toThrow(
        /no PEM block labelled CERTIFICATE REQUEST/,
      );
      const withTrailer = new Uint8Array([...good, 0]);
      await expect(parseAndVerifyCsr(withTrailer)).rejects.toBeInstanceOf(MalformedPkiObjectError);
    });

    it('an RSA key or another curve: UnsupportedAlgorithmError', async () => {
      const t = await tempFiles({});
      for (const [args, name] of [
        [['-newkey', 'rsa:2048'], 'rsa'],
        [['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp256k1'], 'k1'],
      ] as const) {
        const r = await openssl([
          'req',
          '-new',
          ...args,
          '-nodes',
          '-keyout',
          t.path(`${name}.key`),
          '-subj',
          '/CN=d-x',
          '-out',
          t.path(`${name}.pem`),
        ]);
        expect(r.code).toBe(0);
        const { readFile } = await import('node:fs/promises');
        await expect(parseAndVerifyCsr(await readFile(t.path(`${name}.pem`), 'utf8'))).rejects.toBeInstanceOf(
          UnsupportedAlgorithmError,
        );
      }
      await t.cleanup();
    });
  });

  it('node sees the device key SPKI the same way (sanity for spkiEqual)', async () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const der = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
    expect(spkiEqual(der, derToPem(der, 'PUBLIC KEY'))).toBe(true);
  });
});
