import * as asn1js from 'asn1js';
import { readFile } from 'node:fs/promises';
import { randomInt } from 'node:crypto';
import { pkijs } from '../engine.js';
import { asBytes } from '../encoding/bytes.js';
import { tlv } from '../encoding/der-writer.js';
import { isPkiError, MalformedPkiObjectError, SignatureVerificationError } from '../errors.js';
import { openssl, tempFiles } from '../openssl.test-helper.js';
import { signWith } from '../signer/sign-tbs.js';
import { generateP256KeyPair, WebCryptoSigner } from '../signer/webcrypto-signer.js';
import { createCsr } from './create-csr.js';
import { parseAndVerifyCsr, parseCsr, parseCsrWithPkijs, verifyCsrSignature } from './parse-csr.js';

const outcome = (f: () => unknown): { ok: true; value: unknown } | { ok: false; error: unknown } => {
  try {
    return { ok: true, value: f() };
  } catch (error) {
    return { ok: false, error };
  }
};

/** A CSR whose subject is any asn1js Name we like (string types createCsr never writes). */
const csrWithSubject = async (rdns: asn1js.Set[]): Promise<Uint8Array> => {
  const signer = await WebCryptoSigner.fromKeyPair(await generateP256KeyPair());
  const csr = new pkijs.CertificationRequest({
    version: 0,
    subject: pkijs.RelativeDistinguishedNames.fromBER(new asn1js.Sequence({ value: rdns }).toBER(false)),
    subjectPublicKeyInfo: pkijs.PublicKeyInfo.fromBER(signer.publicKeySpki),
    attributes: [],
    signatureAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: '1.2.840.10045.4.3.2' }),
  });
  csr.tbsView = asBytes((csr as unknown as { encodeTBS(): asn1js.Sequence }).encodeTBS().toBER(false));
  csr.signatureValue = await signWith(signer, csr.tbsView);
  return asBytes(csr.toSchema(false).toBER(false));
};
const atv = (oid: string, value: asn1js.BaseBlock) =>
  new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: oid }), value] });

describe('strict DER PKCS#10 reader vs the pkijs reference', () => {
  let good: Uint8Array;
  beforeAll(async () => {
    good = (
      await createCsr({
        subjectCommonName: 'd-reader',
        signer: await WebCryptoSigner.fromKeyPair(await generateP256KeyPair()),
      })
    ).der;
  });

  it('reads 100 device CSRs exactly as pkijs does, and they verify', async () => {
    for (let i = 0; i < 100; i++) {
      const cn = i % 10 === 0 ? `gerät-${i}-ü€` : `d-${i.toString(36)}-${'x'.repeat(randomInt(0, 50))}`;
      const csr = await createCsr({
        subjectCommonName: cn,
        signer: await WebCryptoSigner.fromKeyPair(await generateP256KeyPair()),
      });
      const fast = parseCsr(csr.der);
      expect(fast).toEqual(parseCsrWithPkijs(csr.der));
      expect(fast.subjectCommonName).toBe(cn);
      expect(await verifyCsrSignature(fast)).toBe(true);
    }
  });

  it('reads openssl-made CSRs (several subjects, multi-valued RDNs, attributes) exactly as pkijs does', async () => {
    const t = await tempFiles({});
    const variants: string[][] = [
      ['-subj', '/CN=d-openssl/O=acme'],
      ['-subj', '/C=DE/O=acme corp/OU=fleet, north/CN=d-1'],
      ['-subj', '/CN=d-2+serialNumber=1234/O=acme', '-multivalue-rdn'],
      [
        '-subj',
        '/CN=d-3',
        '-addext',
        'subjectAltName=URI:urn:tunnelkey:device:d-3',
        '-addext',
        'keyUsage=digitalSignature',
      ],
      ['-subj', '/CN=d-4/emailAddress=ops@example.com/DC=example', '-utf8'],
      ['-subj', '/CN=d-5/O=printable', '-sha256', '-reqopt', 'no_pubkey'],
    ];
    try {
      for (const [i, extra] of variants.entries()) {
        const r = await openssl([
          'req',
          '-new',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-nodes',
          '-keyout',
          t.path(`k${i}.pem`),
          '-out',
          t.path(`r${i}.pem`),
          ...extra,
        ]);
        expect(r.code).toBe(0);
        const pem = await readFile(t.path(`r${i}.pem`), 'utf8');
        const fast = parseCsr(pem);
        expect(fast).toEqual(parseCsrWithPkijs(pem));
        await expect(parseAndVerifyCsr(pem)).resolves.toBeDefined();
      }
    } finally {
      await t.cleanup();
    }
  });

  it('names with string types it does not decode itself (BMPString, PrintableString, IA5String) read as pkijs reads them', async () => {
    const der = await csrWithSubject([
      new asn1js.Set({ value: [atv('2.5.4.6', new asn1js.PrintableString({ value: 'DE' }))] }),
      new asn1js.Set({ value: [atv('2.5.4.10', new asn1js.BmpString({ value: 'Ünïcode GmbH' }))] }),
      new asn1js.Set({ value: [atv('1.2.840.113549.1.9.1', new asn1js.IA5String({ value: 'a@b.c' }))] }),
      new asn1js.Set({
        value: [
          atv('2.5.4.3', new asn1js.Utf8String({ value: 'd-bmp' })),
          atv('2.5.4.5', new asn1js.PrintableString({ value: '42' })),
        ],
      }),
    ]);
    const fast = parseCsr(der);
    expect(fast).toEqual(parseCsrWithPkijs(der));
    expect(fast.subjectCommonName).toBe('d-bmp');
    expect(await verifyCsrSignature(fast)).toBe(true);
  });

  it('an invalid UTF8String reads as pkijs reads it (fallback), and an empty subject has no CN', async () => {
    const bad = await csrWithSubject([
      new asn1js.Set({
        value: [atv('2.5.4.3', new asn1js.Utf8String({ valueHex: new Uint8Array([0x64, 0xff, 0xfe]).buffer }))],
      }),
    ]);
    expect(parseCsr(bad)).toEqual(parseCsrWithPkijs(bad));
    const empty = await csrWithSubject([]);
    expect(parseCsr(empty)).toEqual(parseCsrWithPkijs(empty));
    expect(parseCsr(empty).subjectCommonName).toBeUndefined();
  });

  it('every truncation is a MalformedPkiObjectError', () => {
    for (let n = 0; n < good.length; n++) expect(() => parseCsr(good.subarray(0, n))).toThrow(MalformedPkiObjectError);
  });

  it('refuses BER that DER forbids: indefinite and non-minimal lengths, and trailing bytes anywhere', () => {
    const body = good.subarray(good[1]! & 0x80 ? 2 + (good[1]! & 0x7f) : 2);
    // Indefinite outer length, with end-of-contents.
    expect(() => parseCsr(new Uint8Array([0x30, 0x80, ...body, 0, 0]))).toThrow(/indefinite/);
    // Long form for a length that fits the short form / a leading zero length octet.
    expect(() => parseCsr(new Uint8Array([0x30, 0x82, 0x00, body.length, ...body]))).toThrow(/non-minimal/);
    expect(() => parseCsr(tlv(0x30, new Uint8Array([0x02, 0x81, 0x01, 0x00])))).toThrow(/non-minimal/);
    // Trailing bytes after the whole object, inside the outer SEQUENCE, inside the info.
    expect(() => parseCsr(new Uint8Array([...good, 0x00]))).toThrow(/trailing/);
    expect(() => parseCsr(tlv(0x30, body, new Uint8Array([0x05, 0x00])))).toThrow(MalformedPkiObjectError);
    const csr = new pkijs.CertificationRequest({ schema: asn1js.fromBER(good.slice().buffer).result });
    const info = csr.tbsView;
    const infoBody = info.subarray(info[1]! & 0x80 ? 2 + (info[1]! & 0x7f) : 2);
    const rest = good.subarray(good.length - (body.length - info.length));
    expect(() => parseCsr(tlv(0x30, tlv(0x30, infoBody, new Uint8Array([0x05, 0x00])), rest))).toThrow(
      MalformedPkiObjectError,
    );
  });

  it('random single-byte corruptions: a typed error, or the same result as pkijs and a failed signature', async () => {
    let accepted = 0;
    for (let i = 0; i < 1500; i++) {
      const der = good.slice();
      der[randomInt(0, der.length)] = randomInt(0, 256);
      const fast = outcome(() => parseCsr(der));
      if (!fast.ok) {
        expect(isPkiError(fast.error)).toBe(true);
        continue;
      }
      accepted++;
      const reference = outcome(() => parseCsrWithPkijs(der));
      expect(reference.ok && reference.value).toEqual(fast.value);
      const same = Buffer.from(der).equals(Buffer.from(good));
      const verdict = await parseAndVerifyCsr(der).then(
        () => 'ok',
        (e: unknown) => (e instanceof SignatureVerificationError || isPkiError(e) ? 'refused' : e),
      );
      expect(verdict).toBe(same ? 'ok' : 'refused');
    }
    expect(accepted).toBeGreaterThan(0);
  });
});
