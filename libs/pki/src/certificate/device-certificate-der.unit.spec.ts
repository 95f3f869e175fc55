import { randomBytes, randomInt } from 'node:crypto';
import { toHex } from '../encoding/bytes.js';
import { derToPem } from '../encoding/pem.js';
import { InvalidPkiInputError } from '../errors.js';
import { CRL_URL, fixedSigner, makeHierarchy, T0, type Hierarchy } from '../fixtures.test-helper.js';
import { nameDer } from '../name.js';
import { openssl, tempFiles } from '../openssl.test-helper.js';
import type { Signer } from '../signer/signer.js';
import { generateP256KeyPair, WebCryptoSigner } from '../signer/webcrypto-signer.js';
import { issuerNameBytes } from './device-certificate-der.js';
import {
  buildDeviceCertificate,
  buildDeviceCertificateWithPkijs,
  deviceTbsCertificate,
  deviceTbsCertificateWithPkijs,
  type DeviceCertificateRequest,
} from './device-certificate.js';
import { buildIssuingCaCertificate } from './issuing-ca.js';
import { buildRootCaCertificate } from './root-ca.js';
import { loadIssuer, type CertificateIssuer } from './issuer.js';
import { parseCertificate } from './parse-certificate.js';

const ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-';
const randomId = () => {
  const len = randomInt(1, 65);
  let id = ID_CHARS[randomInt(0, 62)]!; // starts alphanumeric
  for (let i = 1; i < len; i++) id += ID_CHARS[randomInt(0, ID_CHARS.length)];
  return id;
};

/** Serials that exercise INTEGER minimality: leading zeros to strip, top bit needing a 0x00, 1..20 octets. */
const randomSerial = (): Uint8Array => {
  const len = randomInt(1, 21);
  const s = new Uint8Array(randomBytes(len));
  switch (randomInt(0, 4)) {
    case 0:
      s[0]! |= 0x80; // needs the 0x00 sign octet
      break;
    case 1:
      s[0] = 0; // leading zero to strip
      break;
    case 2:
      s[0]! &= 0x7f;
      break;
  }
  if (len === 20 && s[0]! & 0x80) s[0]! &= 0x7f; // 20 octets at most once encoded
  if (s.every((b) => b === 0)) s[s.length - 1] = 1;
  return s;
};

const DNS = ['gw.example.com', 'a.b', '*.fleet.example.org', 'x-1.example'];
const CRL_URLS = [
  CRL_URL,
  'http://c/x',
  `http://ca.tunnelkey.local/crl/${'p'.repeat(150)}.crl`,
  'ldap://dir.example.com/cn=CRL',
];

const between = (from: Date, to: Date) =>
  new Date(from.getTime() + Math.floor(Math.random() * (to.getTime() - from.getTime())));

/** A signer that returns a fixed "signature", so whole certificates can be compared byte for byte. */
const fixedSignatureSigner = (real: Signer): Signer => ({
  algorithm: real.algorithm,
  publicKeySpki: real.publicKeySpki,
  sign: () => Promise.resolve(new Uint8Array([0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01])),
});

describe('device certificate: direct DER encoder vs the pkijs reference', () => {
  let h: Hierarchy;
  let longIssuer: CertificateIssuer;
  /** A root valid until 2080: UTCTime and GeneralizedTime on both sides of 2050. */
  let longRoot: CertificateIssuer;
  const deviceKeys: Uint8Array[] = [];

  beforeAll(async () => {
    h = await makeHierarchy();
    // An issuing CA valid into GeneralizedTime years, with a long name (long-form lengths).
    const signer = await WebCryptoSigner.fromKeyPair(await generateP256KeyPair());
    const issuing = await buildIssuingCaCertificate({
      subject: {
        commonName: `long ${'n'.repeat(59)}`,
        organization: 'o'.repeat(64),
        organizationalUnit: 'u'.repeat(64),
        country: 'DE',
      },
      publicKeySpki: signer.publicKeySpki,
      issuer: h.rootIssuer,
      notBefore: T0,
      notAfter: new Date('2045-12-31T23:59:59Z'),
    });
    longIssuer = loadIssuer({ certificate: issuing.der, signer });
    const rootSigner = await fixedSigner('root');
    const root = await buildRootCaCertificate({
      subject: { commonName: 'long root' },
      signer: rootSigner,
      notBefore: T0,
      notAfter: new Date('2080-01-01T00:00:00Z'),
    });
    longRoot = loadIssuer({ certificate: root.der, signer: rootSigner });
    for (let i = 0; i < 8; i++)
      deviceKeys.push((await WebCryptoSigner.fromKeyPair(await generateP256KeyPair())).publicKeySpki);
  });

  it('copies the issuer name verbatim from the issuer certificate', () => {
    expect(toHex(issuerNameBytes(h.issuingIssuer))).toBe(toHex(nameDer(h.issuingIssuer.subject)));
    expect(toHex(issuerNameBytes(longIssuer))).toBe(toHex(nameDer(longIssuer.subject)));
  });

  it('writes byte-identical TBS DER for 500 randomized requests', () => {
    for (let i = 0; i < 500; i++) {
      const issuer = [h.issuingIssuer, longIssuer, longRoot][i % 3]!;
      const nb = between(issuer.certificate.notBefore, new Date(issuer.certificate.notAfter.getTime() - 3_600_000));
      const req: DeviceCertificateRequest = {
        deviceId: randomId(),
        publicKeySpki: deviceKeys[i % deviceKeys.length]!,
        issuer,
        notBefore: new Date(nb.getTime() + randomInt(0, 1000)), // fractions of a second are dropped
        notAfter: between(new Date(nb.getTime() + 1000), issuer.certificate.notAfter),
        crlDistributionPointUrl: CRL_URLS[i % CRL_URLS.length]!,
        serial: randomSerial(),
        ...(i % 5 === 0 ? { dnsNames: DNS.slice(0, 1 + (i % DNS.length)) } : {}),
      };
      expect(toHex(deviceTbsCertificate(req))).toBe(toHex(deviceTbsCertificateWithPkijs(req)));
    }
  });

  it('covers both X.509 time forms and the serial edge cases explicitly', () => {
    const cases: Array<Partial<DeviceCertificateRequest>> = [
      { notAfter: new Date('2049-12-31T23:59:59.999Z'), serial: new Uint8Array([0x80]) },
      {
        notBefore: new Date('2049-12-31T23:59:59Z'),
        notAfter: new Date('2050-01-01T00:00:00Z'),
        serial: new Uint8Array([0, 0, 0x01]),
      },
      {
        notBefore: new Date('2050-01-01T00:00:00Z'),
        notAfter: new Date('2061-07-04T12:34:56.789Z'),
        serial: new Uint8Array([0x7f, ...new Uint8Array(19).fill(0xff)]),
      },
      {
        notAfter: new Date('2079-12-31T23:59:59Z'),
        serial: new Uint8Array([0x00, 0xff, ...new Uint8Array(18).fill(0x01)]),
      },
      { notAfter: new Date('2027-01-01T00:00:00Z'), serial: new Uint8Array([0x01]) },
    ];
    for (const c of cases) {
      const req = {
        deviceId: 'd-edge',
        publicKeySpki: deviceKeys[0]!,
        issuer: longRoot,
        crlDistributionPointUrl: CRL_URL,
        notBefore: T0,
        ...c,
      } as DeviceCertificateRequest;
      const tbs = deviceTbsCertificate(req);
      expect(toHex(tbs)).toBe(toHex(deviceTbsCertificateWithPkijs(req)));
      if (req.notAfter.getUTCFullYear() >= 2050) expect(toHex(tbs)).toContain('180f'); // GeneralizedTime, 15 octets
    }
  });

  it('without a CRL distribution point (a target certificate), the same bytes as pkijs and no such extension', async () => {
    const req: DeviceCertificateRequest = {
      deviceId: 'd-target',
      publicKeySpki: deviceKeys[1]!,
      issuer: h.issuingIssuer,
      notBefore: T0,
      notAfter: new Date('2027-01-01T00:00:00Z'),
      serial: randomSerial(),
    };
    const tbs = deviceTbsCertificate(req);
    expect(toHex(tbs)).toBe(toHex(deviceTbsCertificateWithPkijs(req)));
    const issued = await buildDeviceCertificate(req);
    expect(parseCertificate(issued.der).crlDistributionPoints).toBeUndefined();
  });

  it('whole certificates are byte-identical too (fixed signature), with the same IssuedCertificate fields', async () => {
    const issuer = { ...h.issuingIssuer, signer: fixedSignatureSigner(h.issuingIssuer.signer) };
    for (let i = 0; i < 20; i++) {
      const req = {
        deviceId: randomId(),
        publicKeySpki: deviceKeys[i % 8]!,
        issuer,
        notBefore: T0,
        notAfter: new Date('2026-07-01T00:00:00.500Z'),
        crlDistributionPointUrl: CRL_URL,
        serial: randomSerial(),
      };
      const fast = await buildDeviceCertificate(req);
      const reference = await buildDeviceCertificateWithPkijs(req);
      expect(toHex(fast.der)).toBe(toHex(reference.der));
      expect(fast).toEqual(reference);
    }
  });

  it('refuses the same bad requests with the same error type', async () => {
    const base = {
      deviceId: 'd-1',
      publicKeySpki: deviceKeys[0]!,
      issuer: h.issuingIssuer,
      notBefore: T0,
      notAfter: new Date('2027-01-01T00:00:00Z'),
      crlDistributionPointUrl: CRL_URL,
    };
    const bad: Array<Partial<DeviceCertificateRequest>> = [
      { deviceId: '' },
      { deviceId: '-x' },
      { deviceId: 'a'.repeat(65) },
      { notAfter: new Date('2040-01-01T00:00:00Z') },
      { notBefore: new Date('2027-01-01T00:00:00Z'), notAfter: T0 },
      { notBefore: new Date(NaN) },
      { crlDistributionPointUrl: 'https://x/crl' },
      { crlDistributionPointUrl: 'not a url' },
      { serial: new Uint8Array(16) },
      { serial: new Uint8Array(21).fill(1) },
      { dnsNames: ['bad host'] },
      { publicKeySpki: new Uint8Array([0x30, 0x00]) },
    ];
    for (const b of bad) {
      const req = { ...base, ...b };
      const reference = await buildDeviceCertificateWithPkijs(req).catch((e: unknown) => e);
      const fast = await buildDeviceCertificate(req).catch((e: unknown) => e);
      expect(fast).toBeInstanceOf(Error);
      expect((fast as Error).constructor).toBe((reference as Error).constructor);
    }
    await expect(buildDeviceCertificate({ ...base, deviceId: 'x y' })).rejects.toBeInstanceOf(InvalidPkiInputError);
  });

  it('openssl verifies fast-path certificates and shows the profile', async () => {
    const files: Record<string, string> = { 'root.pem': h.root.pem, 'issuing.pem': h.issuing.pem };
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const id = randomId();
      ids.push(id);
      const cert = await buildDeviceCertificate({
        deviceId: id,
        publicKeySpki: deviceKeys[i % 8]!,
        issuer: h.issuingIssuer,
        notBefore: T0,
        notAfter: new Date('2026-12-01T00:00:00Z'),
        crlDistributionPointUrl: CRL_URLS[i % 2]!,
        ...(i === 3 ? { dnsNames: ['gw.example.com'] } : {}),
      });
      files[`leaf${i}.pem`] = cert.pem;
      expect(parseCertificate(cert.der).tbsDer).toEqual(cert.tbsDer);
    }
    const t = await tempFiles(files);
    try {
      const at = String(new Date('2026-06-01T00:00:00Z').getTime() / 1000);
      const leaves = ids.map((_, i) => t.path(`leaf${i}.pem`));
      const r = await openssl([
        'verify',
        '-attime',
        at,
        '-purpose',
        'sslclient',
        '-CAfile',
        t.path('root.pem'),
        '-untrusted',
        t.path('issuing.pem'),
        ...leaves,
      ]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout.trim().split('\n')).toEqual(leaves.map((l) => `${l}: OK`));
      const text = (await openssl(['x509', '-text', '-noout', '-in', t.path('leaf3.pem')])).stdout;
      expect(text).toContain(`Subject: CN = ${ids[3]}`);
      expect(text).toMatch(
        new RegExp(`URI:urn:tunnelkey:device:${ids[3]!.replace(/[.]/g, '\\.')}, DNS:gw\\.example\\.com`),
      );
    } finally {
      await t.cleanup();
    }
  });

  it('PEM output matches derToPem', async () => {
    const cert = await buildDeviceCertificate({
      deviceId: 'd-pem',
      publicKeySpki: deviceKeys[0]!,
      issuer: h.issuingIssuer,
      notBefore: T0,
      notAfter: new Date('2026-12-01T00:00:00Z'),
      crlDistributionPointUrl: CRL_URL,
    });
    expect(cert.pem).toBe(derToPem(cert.der, 'CERTIFICATE'));
  });
});
