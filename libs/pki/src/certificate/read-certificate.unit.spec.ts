import { randomBytes, randomInt } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { toHex } from '../encoding/bytes.js';
import { tlv } from '../encoding/der-writer.js';
import { ChainVerificationError, isPkiError, MalformedPkiObjectError } from '../errors.js';
import { BasicConstraints } from '../extensions/basic-constraints.js';
import { KeyUsage } from '../extensions/key-usage.js';
import { issueDevice, makeHierarchy, T0, type Hierarchy } from '../fixtures.test-helper.js';
import { nameToString } from '../name.js';
import { openssl, tempFiles } from '../openssl.test-helper.js';
import { generateP256KeyPair, WebCryptoSigner } from '../signer/webcrypto-signer.js';
import { buildDeviceCertificate } from './device-certificate.js';
import { buildIssuingCaCertificate } from './issuing-ca.js';
import { loadIssuer } from './issuer.js';
import {
  parseCertificate,
  parseCertificateWithPkijs,
  summarizeCertificate,
  type ParsedCertificate,
} from './parse-certificate.js';
import { buildRootCaCertificate } from './root-ca.js';
import { verifyChain } from './verify-chain.js';

const AT = new Date('2026-06-01T00:00:00Z');

/** Everything a ParsedCertificate says, as plain values both paths must agree on. */
const view = (c: ParsedCertificate) => ({
  der: toHex(c.der),
  tbsDer: toHex(c.tbsDer),
  subjectDer: toHex(c.subjectDer),
  issuerDer: toHex(c.issuerDer),
  subjectName: c.subjectName,
  issuerName: c.issuerName,
  subjectCommonName: c.subjectCommonName,
  serialHex: c.serialHex,
  notBefore: c.notBefore.getTime(),
  notAfter: c.notAfter.getTime(),
  spki: toHex(c.spki),
  signatureAlgorithmOid: c.signatureAlgorithmOid,
  signature: toHex(c.signature),
  subjectAltName: c.subjectAltName && { uris: c.subjectAltName.uris, dnsNames: c.subjectAltName.dnsNames },
  extendedKeyUsage: c.extendedKeyUsage?.purposeOids,
  keyUsage: c.keyUsage?.usages,
  basicConstraints: c.basicConstraints && { ca: c.basicConstraints.ca, pathLength: c.basicConstraints.pathLength },
  subjectKeyIdentifier: c.subjectKeyIdentifier?.hex,
  authorityKeyIdentifier: c.authorityKeyIdentifier?.hex,
  crlDistributionPoints: c.crlDistributionPoints?.urls,
  unknownCriticalExtensions: c.unknownCriticalExtensions,
  // Which optional fields exist (the pkijs members are getters on the fast path's prototype).
  present: Object.keys(c)
    .filter(
      (k) => !['pkijs', 'subject', 'issuer'].includes(k) && (c as unknown as Record<string, unknown>)[k] !== undefined,
    )
    .sort(),
});

const outcome = (f: () => ParsedCertificate) => {
  try {
    return { ok: true as const, value: f() };
  } catch (error) {
    return { ok: false as const, error };
  }
};

/** Fast and pkijs agree: the same view, or both refuse with the same error type. */
const expectSameAsPkijs = (input: Uint8Array | string): ParsedCertificate | undefined => {
  const fast = outcome(() => parseCertificate(input));
  const reference = outcome(() => parseCertificateWithPkijs(input));
  if (!reference.ok) {
    if (fast.ok)
      throw new Error(
        `pkijs refuses what the strict reader accepts: ${String(reference.error)} (${String((reference.error as Error).cause)})`,
      );
    expect((fast as { error: unknown }).error).toBeInstanceOf((reference.error as object).constructor);
    return undefined;
  }
  if (!fast.ok) throw fast.error;
  expect(view(fast.value)).toEqual(view(reference.value));
  expect(summarizeCertificate(fast.value)).toEqual(summarizeCertificate(reference.value));
  // The pkijs members, made on demand, are the reference's.
  expect(nameToString(fast.value.subject)).toBe(fast.value.subjectName);
  expect(nameToString(fast.value.issuer)).toBe(fast.value.issuerName);
  expect(fast.value.subject.isEqual(reference.value.subject)).toBe(true);
  expect(fast.value.pkijs.serialNumber.valueBlock.toString()).toBe(
    reference.value.pkijs.serialNumber.valueBlock.toString(),
  );
  return fast.value;
};

const header = (der: Uint8Array) => (der[1]! & 0x80 ? 2 + (der[1]! & 0x7f) : 2);

describe('strict DER certificate reader vs the pkijs reference', () => {
  let h: Hierarchy;
  let device: Uint8Array;
  beforeAll(async () => {
    h = await makeHierarchy();
    device = (await issueDevice(h, 'd-reader')).cert.der;
  });

  it('reads our root, issuing and device certificates (random names, serials, dates, SANs) exactly as pkijs does', async () => {
    for (let i = 0; i < 12; i++) {
      const text = (n: number) =>
        (i % 3 === 0 ? `gerät ü€ ${n} ` : `x${randomBytes(randomInt(1, 20)).toString('base64url')}`).slice(0, 60);
      const notBefore = new Date(
        Date.UTC(
          2000 + randomInt(0, 40),
          randomInt(0, 12),
          randomInt(1, 29),
          randomInt(0, 24),
          randomInt(0, 60),
          randomInt(0, 60),
        ),
      );
      const notAfter = new Date(notBefore.getTime() + randomInt(1, 80) * 365 * 86_400_000); // past 2049 too: GeneralizedTime
      const rootSigner = await WebCryptoSigner.fromKeyPair(await generateP256KeyPair());
      const root = await buildRootCaCertificate({
        subject: {
          commonName: text(1),
          organization: text(2),
          ...(i % 2 ? { country: 'DE', organizationalUnit: text(3) } : {}),
        },
        signer: rootSigner,
        notBefore,
        notAfter,
        serial: new Uint8Array([...randomBytes(randomInt(0, 19)), randomInt(1, 256)]),
      });
      const issuingSigner = await WebCryptoSigner.fromKeyPair(await generateP256KeyPair());
      const issuing = await buildIssuingCaCertificate({
        subject: { commonName: text(4), organization: text(5) },
        publicKeySpki: issuingSigner.publicKeySpki,
        issuer: loadIssuer({ certificate: root.der, signer: rootSigner }),
        notBefore,
        notAfter,
      });
      const leaf = await buildDeviceCertificate({
        deviceId: `d-${randomBytes(randomInt(1, 30)).toString('hex')}`,
        publicKeySpki: (await WebCryptoSigner.fromKeyPair(await generateP256KeyPair())).publicKeySpki,
        issuer: loadIssuer({ certificate: issuing.der, signer: issuingSigner }),
        notBefore,
        notAfter,
        dnsNames: i % 2 ? [`gw${i}.example.com`, '*.fleet.example'] : [],
        crlDistributionPointUrl: `http://ca.local/crl/${i}.crl`,
      });
      for (const der of [root.der, issuing.der, leaf.der]) expect(expectSameAsPkijs(der)).toBeDefined();
      expect(expectSameAsPkijs(leaf.pem)?.serialHex).toBe(leaf.serialHex);
      const chain = await verifyChain({
        leaf: leaf.der,
        intermediates: [issuing.der],
        root: root.der,
        at: new Date(notBefore.getTime() + 1000),
        purpose: 'clientAuth',
      });
      expect(chain.chain).toHaveLength(3);
    }
  });

  it('reads openssl-made certificates (name types, every GeneralName form, CRL DP forms, RSA/Ed25519, GeneralizedTime) exactly as pkijs does', async () => {
    const t = await tempFiles({
      'issued.ext':
        'basicConstraints=CA:FALSE\nsubjectAltName=DNS:issued.example,URI:urn:x:y\nauthorityKeyIdentifier=keyid,issuer\n',
      // A private non-critical extension in every certificate: without any, openssl 3.0 writes v1.
      'default.cnf':
        '[req]\ndistinguished_name=dn\nstring_mask=default\nx509_extensions=base\n[dn]\n[base]\n1.3.6.1.4.1.55555.1=ASN1:NULL\n',
      'v1.cnf': '[req]\ndistinguished_name=dn\n[dn]\n',
      'utf8.cnf': [
        '[req]',
        'distinguished_name=dn',
        'string_mask=utf8only',
        'x509_extensions=base',
        '[dn]',
        '[base]',
        '1.3.6.1.4.1.55555.1=ASN1:NULL',
        '[dir_sect]',
        'CN=directory name',
        'O=acme',
        '[crldp_sect]',
        'fullname=URI:http://crl.example/a.crl,URI:ldap://ldap.example/cn=crl',
        'reasons=keyCompromise,CACompromise',
        'CRLissuer=dirName:dir_sect',
        '[crldp_rel]',
        'relativename=rel_sect',
        'CRLissuer=dirName:dir_sect',
        '[rel_sect]',
        'CN=crl one',
        '',
      ].join('\n'),
    });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
    const utf8 = ['-config', t.path('utf8.cnf')];
    const variants: string[][] = [
      [...ec, ...utf8, '-subj', '/CN=plain'],
      [
        ...ec,
        ...utf8,
        '-subj',
        '/C=DE/ST=Bayern/O=acme corp/OU=fleet, north/CN=d-1/emailAddress=ops@example.com',
        '-addext',
        'basicConstraints=critical,CA:TRUE,pathlen:3',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
        '-addext',
        'subjectKeyIdentifier=hash',
        '-addext',
        'authorityKeyIdentifier=keyid:always,issuer:always',
        '-addext',
        'crlDistributionPoints=URI:http://a.example/1.crl,URI:ldap://b.example/c',
      ],
      [
        ...ec,
        ...utf8,
        '-subj',
        '/DC=com/DC=example/CN=san',
        '-addext',
        'subjectAltName=DNS:a.example.com,DNS:*.b.example,URI:urn:tunnelkey:device:x,email:a@b.c,IP:10.0.0.1,IP:::1,RID:1.2.3.4,dirName:dir_sect,otherName:1.2.3.4;UTF8:hello',
        '-addext',
        'basicConstraints=CA:FALSE',
      ],
      [
        ...ec,
        ...utf8,
        '-subj',
        '/CN=eku',
        '-addext',
        'extendedKeyUsage=serverAuth,clientAuth,codeSigning,1.2.3.4.5',
        '-addext',
        'keyUsage=nonRepudiation,keyEncipherment,dataEncipherment,keyAgreement,encipherOnly,decipherOnly',
      ],
      [
        ...ec,
        ...utf8,
        '-subj',
        '/CN=unknown',
        '-addext',
        '1.2.3.4.5.6=critical,ASN1:UTF8String:hi',
        '-addext',
        'certificatePolicies=2.5.29.32.0',
        '-addext',
        'nsComment=a comment',
      ],
      [...ec, ...utf8, '-multivalue-rdn', '-subj', '/CN=d-2+serialNumber=1234/O=acme'],
      [...ec, ...utf8, '-utf8', '-subj', '/CN=gerät €/O=ünïcode'],
      [...ec, '-config', t.path('default.cnf'), '-utf8', '-subj', '/CN=gerät €/O=ünïcode/OU=plain'],
      [
        ...ec,
        ...utf8,
        '-subj',
        '/CN=long',
        '-days',
        '20000',
        '-set_serial',
        '0xff00000000000000000000000000000000000001',
      ],
      [
        ...ec,
        ...utf8,
        '-subj',
        '/CN=crldp',
        '-addext',
        'crlDistributionPoints=crldp_sect',
        '-addext',
        'subjectKeyIdentifier=none',
      ],
      ['-newkey', 'rsa:2048', '-sha384', ...utf8, '-subj', '/CN=rsa', '-addext', 'basicConstraints=critical,CA:TRUE'],
      ['-newkey', 'ed25519', ...utf8, '-subj', '/CN=ed25519'],
    ];
    let accepted = 0;
    try {
      for (const [i, extra] of variants.entries()) {
        const r = await openssl([
          'req',
          '-x509',
          '-nodes',
          '-days',
          '30',
          '-keyout',
          t.path(`k${i}.pem`),
          '-out',
          t.path(`c${i}.pem`),
          ...extra,
        ]);
        expect(r.stderr).not.toMatch(/error/i);
        expect(r.code).toBe(0);
        const pem = await readFile(t.path(`c${i}.pem`), 'utf8');
        if (expectSameAsPkijs(pem)) accepted++;
      }
      // A v1 certificate is refused by both.
      const v1 = await openssl([
        'req',
        '-x509',
        '-nodes',
        '-days',
        '30',
        ...ec,
        '-config',
        t.path('v1.cnf'),
        '-subj',
        '/CN=v1',
        '-keyout',
        t.path('k-v1.pem'),
        '-out',
        t.path('v1.pem'),
      ]);
      expect(v1.code).toBe(0);
      const v1Pem = await readFile(t.path('v1.pem'), 'utf8');
      expect(expectSameAsPkijs(v1Pem)).toBeUndefined();
      expect(() => parseCertificate(v1Pem)).toThrow(/only X.509 v3/);
      // nameRelativeToCRLIssuer ([1] IMPLICIT SET OF AttributeTypeAndValue): pkijs's schema refuses it, wrongly.
      const rel = await openssl([
        'req',
        '-x509',
        '-nodes',
        '-days',
        '30',
        ...ec,
        ...utf8,
        '-subj',
        '/CN=crldp-relative',
        '-addext',
        'crlDistributionPoints=crldp_rel',
        '-keyout',
        t.path('kr.pem'),
        '-out',
        t.path('cr.pem'),
      ]);
      expect(rel.code).toBe(0);
      const relPem = await readFile(t.path('cr.pem'), 'utf8');
      expect(() => parseCertificateWithPkijs(relPem)).toThrow(/CRLDistributionPoints/);
      expect(parseCertificate(relPem).crlDistributionPoints?.urls).toEqual([]);
      // One issued by another certificate, with a negative serial.
      await openssl([
        'req',
        '-new',
        ...ec,
        '-nodes',
        ...utf8,
        '-subj',
        '/CN=issued/O=x',
        '-keyout',
        t.path('ik.pem'),
        '-out',
        t.path('csr.pem'),
      ]);
      const issued = await openssl([
        'x509',
        '-req',
        '-in',
        t.path('csr.pem'),
        '-CA',
        t.path('c1.pem'),
        '-CAkey',
        t.path('k1.pem'),
        '-set_serial',
        '-12345',
        '-days',
        '5',
        '-extfile',
        t.path('issued.ext'),
        '-out',
        t.path('issued.pem'),
      ]);
      expect(issued.code).toBe(0);
      expect(expectSameAsPkijs(await readFile(t.path('issued.pem'), 'utf8'))).toBeDefined();
    } finally {
      await t.cleanup();
    }
    expect(accepted).toBe(variants.length);
  });

  it('every truncation is refused with a MalformedPkiObjectError, as by pkijs', () => {
    for (const der of [device, h.issuing.der]) {
      for (let n = 0; n < der.length; n++) {
        expect(() => parseCertificate(der.subarray(0, n))).toThrow(MalformedPkiObjectError);
        expect(() => parseCertificateWithPkijs(der.subarray(0, n))).toThrow(MalformedPkiObjectError);
      }
    }
  });

  it('random single-byte corruptions: a typed error, or exactly what pkijs reads', () => {
    let accepted = 0;
    for (const good of [device, h.issuing.der, h.root.der]) {
      for (let i = 0; i < 250; i++) {
        const der = good.slice();
        der[randomInt(0, der.length)] = randomInt(0, 256);
        const fast = outcome(() => parseCertificate(der));
        if (!fast.ok) {
          expect(isPkiError(fast.error)).toBe(true);
          continue;
        }
        accepted++;
        const reference = outcome(() => parseCertificateWithPkijs(der));
        if (!reference.ok)
          throw new Error(`pkijs refuses what the strict reader accepts: ${toHex(der)}: ${String(reference.error)}`);
        expect(view(fast.value)).toEqual(view(reference.value));
      }
    }
    expect(accepted).toBeGreaterThan(0);
  }, 120_000); // pkijs takes milliseconds per certificate on a loaded 2-core machine

  it('refuses what DER or RFC 5280 forbid and pkijs tolerates', () => {
    const body = device.subarray(header(device));
    expect(() => parseCertificate(new Uint8Array([0x30, 0x80, ...body, 0, 0]))).toThrow(/indefinite/);
    expect(() => parseCertificate(new Uint8Array([...device, 0]))).toThrow(/trailing/);
    const tbs = parseCertificate(device).tbsDer;
    const rest = device.subarray(header(device) + tbs.length);
    const withTbs = (edit: (hex: string) => string) => {
      const edited = Buffer.from(edit(toHex(tbs.subarray(header(tbs)))), 'hex');
      return tlv(0x30, tlv(0x30, edited), rest);
    };
    const plus = (len: string, n: number) => (parseInt(len, 16) + n).toString(16).padStart(2, '0');
    // An encoded critical FALSE (the DEFAULT), instead of leaving it out, on the SAN extension.
    const explicitFalse = withTbs((hex) =>
      hex
        .replace(/a381(..)3081(..)/, (_m, a: string, b: string) => `a381${plus(a, 3)}3081${plus(b, 3)}`)
        .replace(/30(..)0603551d1104/, (_m, len: string) => `30${plus(len, 3)}0603551d1101010004`),
    );
    expect(parseCertificateWithPkijs(explicitFalse).subjectAltName?.uris).toEqual(['urn:tunnelkey:device:d-reader']);
    expect(() => parseCertificate(explicitFalse)).toThrow(/critical FALSE/);
    // A UTCTime without seconds.
    const noSeconds = withTbs((hex) =>
      hex.replace(
        /301e170d(3236303130313030303030305a)/,
        () => `301c170b${Buffer.from('2601010000Z').toString('hex')}`,
      ),
    );
    expect(() => parseCertificate(noSeconds)).toThrow(/time is not an RFC 5280/);
    // The outer signatureAlgorithm must equal the signed one.
    const sha384 = Buffer.from(
      toHex(device).replace(/(300a06082a8648ce3d040302)(03)/, '300a06082a8648ce3d040303$2'),
      'hex',
    );
    expect(() => parseCertificate(sha384)).toThrow(/signatureAlgorithm differs/);
    expect(parseCertificateWithPkijs(sha384).signatureAlgorithmOid).toBe('1.2.840.10045.4.3.3');
    // A name value retagged NULL but keeping its contents (a corruption CI once drew): pkijs reads
    // it and re-encodes an empty NULL, so the issuer bytes it reports are not the signed ones.
    const nullWithContents = Buffer.from(toHex(h.issuing.der).replace(/(0603550403)0c/, '$105'), 'hex');
    expect(() => parseCertificateWithPkijs(nullWithContents)).not.toThrow();
    expect(() => parseCertificate(nullWithContents)).toThrow(/NULL with contents/);
  });

  it('extension decoders refuse non-DER encodings that pkijs accepts', () => {
    expect(() => BasicConstraints.fromDer(new Uint8Array([0x30, 0x03, 0x01, 0x01, 0x00]))).toThrow(
      MalformedPkiObjectError,
    );
    expect(BasicConstraints.fromDerWithPkijs(new Uint8Array([0x30, 0x03, 0x01, 0x01, 0x00])).ca).toBe(false);
    expect(() => BasicConstraints.fromDer(new Uint8Array([0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x80]))).toThrow(
      /negative/,
    );
    expect(() =>
      BasicConstraints.fromDer(new Uint8Array([0x30, 0x07, 0x01, 0x01, 0xff, 0x02, 0x02, 0x00, 0x01])),
    ).toThrow(/non-minimal/);
    // KeyUsage digitalSignature with a trailing zero bit left in (unused bits 6 instead of 7).
    expect(() => KeyUsage.fromDer(new Uint8Array([0x03, 0x02, 0x06, 0x80]))).toThrow(MalformedPkiObjectError);
    expect(KeyUsage.fromDerWithPkijs(new Uint8Array([0x03, 0x02, 0x06, 0x80])).usages).toEqual(['digitalSignature']);
    expect(KeyUsage.fromDer(new Uint8Array([0x03, 0x02, 0x07, 0x80])).usages).toEqual(['digitalSignature']);
  });

  it('pkijs members are made on demand and stay usable by the builders (loadIssuer, name equality)', async () => {
    const root = parseCertificate(h.root.der);
    expect(root.subject.isEqual(root.issuer)).toBe(true);
    expect(root.subject).toBe(root.subject); // decoded once
    expect(root.pkijs.subject.isEqual(root.subject)).toBe(true);
    const issuing = parseCertificate(h.issuing.pem);
    expect(issuing.subject.isEqual(issuing.issuer)).toBe(false);
    const issuer = loadIssuer({ certificate: issuing, signer: h.issuingIssuer.signer });
    const leaf = await buildDeviceCertificate({
      deviceId: 'd-lazy',
      publicKeySpki: h.issuingIssuer.signer.publicKeySpki,
      issuer,
      notBefore: T0,
      notAfter: new Date('2026-12-01T00:00:00Z'),
      crlDistributionPointUrl: 'http://ca.local/crl/lazy.crl',
    });
    expect(parseCertificate(leaf.der).issuerDer).toEqual(issuing.subjectDer);
  });

  it('verifyChain remembers CA-to-CA signatures by exact bytes, never a failure', async () => {
    const req = {
      leaf: device,
      intermediates: [h.issuing.der],
      root: h.root.der,
      at: AT,
      purpose: 'clientAuth' as const,
    };
    await expect(verifyChain(req)).resolves.toBeDefined();
    await expect(verifyChain(req)).resolves.toBeDefined();
    // The same issuing CA with one signature byte changed: the cached success must not cover it.
    const forged = h.issuing.der.slice();
    forged[forged.length - 5]! ^= 0x01;
    const reason = async (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: unknown) => (e instanceof ChainVerificationError ? e.reason : e),
      );
    expect(await reason(verifyChain({ ...req, intermediates: [forged] }))).toBe('BAD_SIGNATURE');
    expect(await reason(verifyChain({ ...req, intermediates: [forged] }))).toBe('BAD_SIGNATURE');
    const forgedRoot = h.root.der.slice();
    forgedRoot[forgedRoot.length - 5]! ^= 0x01;
    expect(await reason(verifyChain({ ...req, root: forgedRoot }))).toBe('ROOT_NOT_SELF_SIGNED');
    await expect(verifyChain(req)).resolves.toBeDefined();
  });
});
