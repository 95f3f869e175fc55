import { X509Certificate } from 'node:crypto';
import { toHex } from '../encoding/bytes.js';
import { ChainVerificationError, InvalidPkiInputError } from '../errors.js';
import {
  CRL_URL,
  fixedSigner,
  issueDevice,
  LEAF_NOT_AFTER,
  makeHierarchy,
  T0,
  type Hierarchy,
} from '../fixtures.test-helper.js';
import { openssl, tempFiles } from '../openssl.test-helper.js';
import { randomSerial } from '../serial.js';
import { buildDeviceCertificate, deviceTbsCertificate } from './device-certificate.js';
import { buildIssuingCaCertificate } from './issuing-ca.js';
import { loadIssuer } from './issuer.js';
import { parseCertificate, summarizeCertificate } from './parse-certificate.js';
import { buildRootCaCertificate } from './root-ca.js';
import { verifyChain } from './verify-chain.js';

const AT = new Date('2026-06-01T00:00:00Z');

describe('certificate hierarchy: root -> issuing CA -> device', () => {
  let h: Hierarchy;
  let leaf: Awaited<ReturnType<typeof issueDevice>>;
  let files: Awaited<ReturnType<typeof tempFiles>>;

  beforeAll(async () => {
    h = await makeHierarchy();
    leaf = await issueDevice(h, 'd-7f3a01');
    files = await tempFiles({ 'root.pem': h.root.pem, 'issuing.pem': h.issuing.pem, 'leaf.pem': leaf.cert.pem });
  });
  afterAll(() => files.cleanup());

  describe('checked by openssl (independent verifier)', () => {
    it('verifies leaf <- issuing <- root', async () => {
      const r = await openssl([
        'verify',
        '-attime',
        String(AT.getTime() / 1000),
        '-CAfile',
        files.path('root.pem'),
        '-untrusted',
        files.path('issuing.pem'),
        files.path('leaf.pem'),
      ]);
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe(`${files.path('leaf.pem')}: OK`);
      expect(r.code).toBe(0);
    });

    it('verifies with the purpose sslclient (clientAuth EKU, digitalSignature)', async () => {
      const r = await openssl([
        'verify',
        '-attime',
        String(AT.getTime() / 1000),
        '-purpose',
        'sslclient',
        '-CAfile',
        files.path('root.pem'),
        '-untrusted',
        files.path('issuing.pem'),
        files.path('leaf.pem'),
      ]);
      expect(r.code).toBe(0);
    });

    it('refuses the leaf without the issuing CA', async () => {
      const r = await openssl(['verify', '-CAfile', files.path('root.pem'), files.path('leaf.pem')]);
      expect(r.code).not.toBe(0);
    });

    it('shows the device profile in openssl x509 -text', async () => {
      const { stdout } = await openssl(['x509', '-text', '-noout', '-in', files.path('leaf.pem')]);
      expect(stdout).toMatch(/Subject: CN = d-7f3a01\n/);
      expect(stdout).toMatch(/Issuer: O = acme, CN = acme Issuing CA/);
      expect(stdout).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
      expect(stdout).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
      expect(stdout).toMatch(/X509v3 Extended Key Usage: \s*\n\s+TLS Web Client Authentication\n/);
      expect(stdout).toMatch(/X509v3 Subject Alternative Name: \s*\n\s+URI:urn:tunnelkey:device:d-7f3a01\n/);
      expect(stdout).toContain(`URI:${CRL_URL}`);
      expect(stdout).toMatch(/NIST CURVE: P-256/);
      expect(stdout).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
      expect(stdout).toMatch(/Not Before: Jan {2}1 00:00:00 2026 GMT/);
      expect(stdout).toMatch(/Not After : Jan {2}1 00:00:00 2027 GMT/);
      // AKI of the leaf = SKI of the issuing CA, as openssl reads them.
      const ski = (await openssl(['x509', '-noout', '-ext', 'subjectKeyIdentifier', '-in', files.path('issuing.pem')]))
        .stdout;
      const aki = stdout.match(/Authority Key Identifier: \s*\n\s+(?:keyid:)?([0-9A-F:]+)/)?.[1];
      expect(aki).toBeDefined();
      expect(ski).toContain(aki);
    });

    it('shows the CA profiles: pathlen 1 on the root, 0 on the issuing CA', async () => {
      const root = (await openssl(['x509', '-text', '-noout', '-in', files.path('root.pem')])).stdout;
      const issuing = (await openssl(['x509', '-text', '-noout', '-in', files.path('issuing.pem')])).stdout;
      expect(root).toMatch(/CA:TRUE, pathlen:1/);
      expect(root).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign/);
      expect(issuing).toMatch(/CA:TRUE, pathlen:0/);
      expect(issuing).toMatch(/Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/);
    });
  });

  describe('summary for the console', () => {
    it('matches what node and openssl read from the same DER', async () => {
      const s = summarizeCertificate(leaf.cert.pem);
      const x = new X509Certificate(leaf.cert.der);
      expect(s).toMatchObject({
        subject: 'CN=d-7f3a01',
        subjectCommonName: 'd-7f3a01',
        issuer: 'O=acme, CN=acme Issuing CA',
        notBefore: '2026-01-01T00:00:00.000Z',
        notAfter: '2027-01-01T00:00:00.000Z',
        sanUris: ['urn:tunnelkey:device:d-7f3a01'],
        sanDnsNames: [],
        extendedKeyUsages: ['clientAuth'],
        keyUsages: ['digitalSignature'],
        isCA: false,
        crlDistributionPoints: [CRL_URL],
      });
      expect(s.serialHex).toBe(x.serialNumber.toLowerCase());
      expect(s.serialHex).toBe(leaf.cert.serialHex);
      expect(s.fingerprintSha256).toBe(x.fingerprint256.replace(/:/g, '').toLowerCase());
      expect(s.fingerprintSha256).toBe(leaf.cert.fingerprintSha256);
      expect(s.authorityKeyId).toBe(summarizeCertificate(h.issuing.der).subjectKeyId);
      expect(summarizeCertificate(h.root.der)).toMatchObject({
        isCA: true,
        pathLength: 1,
        issuer: 'O=tunnelkey, CN=tunnelkey Root CA',
      });
    });
  });

  describe('serials', () => {
    it('are 16 bytes of randomness with the top bit cleared (positive, <= 16 octets)', async () => {
      const s = randomSerial(() => new Uint8Array(16).fill(0xff));
      expect(toHex(s)).toBe('7f' + 'ff'.repeat(15));
      const { cert } = await issueDevice(h, 'd-serial');
      expect(cert.serialHex.length).toBeLessThanOrEqual(32);
      expect(parseInt(cert.serialHex.slice(0, 2), 16) & 0x80).toBe(0);
      const serials = new Set(Array.from({ length: 200 }, () => toHex(randomSerial())));
      expect(serials.size).toBe(200);
    });
  });

  describe('known answer: TBSCertificate DER for fixed inputs', () => {
    it('is byte-identical run after run and to the signed certificate', async () => {
      const device = await fixedSigner('device');
      const request = {
        deviceId: 'd-kat-0001',
        publicKeySpki: device.publicKeySpki,
        issuer: h.issuingIssuer,
        notBefore: T0,
        notAfter: LEAF_NOT_AFTER,
        crlDistributionPointUrl: CRL_URL,
        serial: new Uint8Array(16).fill(0x5a),
      };
      const tbs = deviceTbsCertificate(request);
      // Pinned: any change to the device profile's encoding must be deliberate.
      expect(toHex(tbs)).toBe(KAT_DEVICE_TBS_HEX);
      const signed = await buildDeviceCertificate(request);
      expect(toHex(signed.tbsDer)).toBe(toHex(tbs));
      expect(toHex(parseCertificate(signed.der).tbsDer)).toBe(toHex(tbs));
      // Two signatures differ (ECDSA is randomised) while the TBS does not.
      const again = await buildDeviceCertificate(request);
      expect(toHex(again.tbsDer)).toBe(toHex(tbs));
      expect(toHex(again.der)).not.toBe(toHex(signed.der));
    });
  });

  describe('our chain verification', () => {
    it('accepts leaf <- issuing <- root and returns the path', async () => {
      const v = await verifyChain({
        leaf: leaf.cert.der,
        intermediates: [h.issuing.der],
        root: h.root.der,
        at: AT,
        purpose: 'clientAuth',
      });
      expect(v.chain.map((c) => c.subjectCommonName)).toEqual(['d-7f3a01', 'acme Issuing CA', 'tunnelkey Root CA']);
    });

    const reasonOf = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        if (e instanceof ChainVerificationError) return e.reason;
        throw e;
      }
      return 'ACCEPTED';
    };

    it('rejects a leaf from another CA that uses the same names', async () => {
      const other = await makeHierarchy({ fresh: true });
      const foreign = await issueDevice(other, 'd-7f3a01');
      expect(
        await reasonOf(
          verifyChain({ leaf: foreign.cert.der, intermediates: [h.issuing.der], root: h.root.der, at: AT }),
        ),
      ).toBe('AKI_MISMATCH');
      // and an issuing CA from the other hierarchy does not chain to our root
      expect(
        await reasonOf(
          verifyChain({ leaf: foreign.cert.der, intermediates: [other.issuing.der], root: h.root.der, at: AT }),
        ),
      ).toBe('AKI_MISMATCH');
      // openssl agrees
      const t = await tempFiles({ 'foreign.pem': foreign.cert.pem });
      const r = await openssl([
        'verify',
        '-CAfile',
        files.path('root.pem'),
        '-untrusted',
        files.path('issuing.pem'),
        t.path('foreign.pem'),
      ]);
      await t.cleanup();
      expect(r.code).not.toBe(0);
    });

    it('rejects a leaf from another tenant', async () => {
      const other = await makeHierarchy({ fresh: true, tenant: 'globex' });
      const foreign = await issueDevice(other, 'd-1');
      expect(
        await reasonOf(
          verifyChain({ leaf: foreign.cert.der, intermediates: [h.issuing.der], root: h.root.der, at: AT }),
        ),
      ).toBe('ISSUER_MISMATCH');
    });

    it('rejects a certificate whose signature was tampered with', async () => {
      const der = leaf.cert.der.slice();
      der[der.length - 5]! ^= 0x01;
      expect(await reasonOf(verifyChain({ leaf: der, intermediates: [h.issuing.der], root: h.root.der, at: AT }))).toBe(
        'BAD_SIGNATURE',
      );
    });

    it('rejects a certificate whose TBS was altered (validity pushed out)', async () => {
      const der = leaf.cert.der.slice();
      const at = Buffer.from(der).indexOf(Buffer.from('270101000000Z'));
      expect(at).toBeGreaterThan(0);
      der[at + 1] = 0x39; // 2027 -> 2029
      expect(await reasonOf(verifyChain({ leaf: der, intermediates: [h.issuing.der], root: h.root.der, at: AT }))).toBe(
        'BAD_SIGNATURE',
      );
    });

    it('rejects outside the validity window', async () => {
      const req = { leaf: leaf.cert.der, intermediates: [h.issuing.der], root: h.root.der };
      expect(await reasonOf(verifyChain({ ...req, at: new Date('2025-12-31T23:59:59Z') }))).toBe('NOT_YET_VALID');
      expect(await reasonOf(verifyChain({ ...req, at: new Date('2027-01-01T00:00:01Z') }))).toBe('EXPIRED');
    });

    it('rejects a missing EKU purpose and a CA certificate used as a leaf', async () => {
      const req = { leaf: leaf.cert.der, intermediates: [h.issuing.der], root: h.root.der, at: AT };
      expect(await reasonOf(verifyChain({ ...req, purpose: 'serverAuth' }))).toBe('EXTENDED_KEY_USAGE');
      expect(await reasonOf(verifyChain({ leaf: h.issuing.der, root: h.root.der, at: AT }))).toBe('NOT_A_CA');
    });

    it('rejects a second issuing level below a pathlen:0 CA', async () => {
      const subSigner = await fixedSigner('device');
      const sub = await buildIssuingCaCertificate({
        subject: { commonName: 'sub CA' },
        publicKeySpki: subSigner.publicKeySpki,
        issuer: h.issuingIssuer,
        notBefore: T0,
        notAfter: LEAF_NOT_AFTER,
      });
      const subLeaf = await issueDevice(
        { ...h, issuingIssuer: loadIssuer({ certificate: sub.der, signer: subSigner }) },
        'd-deep',
      );
      expect(
        await reasonOf(
          verifyChain({ leaf: subLeaf.cert.der, intermediates: [sub.der, h.issuing.der], root: h.root.der, at: AT }),
        ),
      ).toBe('PATH_LENGTH');
    });

    it('rejects a chain anchored in an untrusted root', async () => {
      const other = await makeHierarchy({ fresh: true });
      expect(
        await reasonOf(
          verifyChain({ leaf: leaf.cert.der, intermediates: [h.issuing.der], root: other.root.der, at: AT }),
        ),
      ).toBe('AKI_MISMATCH');
    });
  });

  describe('builder guards', () => {
    it('refuses validity outside the issuer, reversed dates, bad ids, bad CRL URLs and mismatched signers', async () => {
      const device = await fixedSigner('device');
      const base = {
        deviceId: 'd-1',
        publicKeySpki: device.publicKeySpki,
        issuer: h.issuingIssuer,
        notBefore: T0,
        notAfter: LEAF_NOT_AFTER,
        crlDistributionPointUrl: CRL_URL,
      };
      await expect(
        buildDeviceCertificate({ ...base, notAfter: new Date('2040-01-01T00:00:00Z') }),
      ).rejects.toBeInstanceOf(InvalidPkiInputError);
      await expect(buildDeviceCertificate({ ...base, notBefore: LEAF_NOT_AFTER, notAfter: T0 })).rejects.toBeInstanceOf(
        InvalidPkiInputError,
      );
      await expect(buildDeviceCertificate({ ...base, deviceId: 'd 1/../x' })).rejects.toBeInstanceOf(
        InvalidPkiInputError,
      );
      await expect(buildDeviceCertificate({ ...base, crlDistributionPointUrl: 'ftp://x/crl' })).rejects.toBeInstanceOf(
        InvalidPkiInputError,
      );
      await expect(buildDeviceCertificate({ ...base, serial: new Uint8Array(16) })).rejects.toBeInstanceOf(
        InvalidPkiInputError,
      );
      expect(() => loadIssuer({ certificate: h.issuing.der, signer: device })).toThrow(InvalidPkiInputError);
      expect(() => loadIssuer({ certificate: h.root.der, signer: h.issuingIssuer.signer })).toThrow(/does not match/);
    });

    it('writes GeneralizedTime from 2050 (RFC 5280) and openssl reads it', async () => {
      const signer = await fixedSigner('root');
      const root = await buildRootCaCertificate({
        subject: { commonName: 'long root' },
        signer,
        notBefore: T0,
        notAfter: new Date('2060-06-30T12:00:00.750Z'),
      });
      expect(parseCertificate(root.der).notAfter.toISOString()).toBe('2060-06-30T12:00:00.000Z');
      const t = await tempFiles({ 'r.pem': root.pem });
      const { stdout } = await openssl(['x509', '-noout', '-enddate', '-in', t.path('r.pem')]);
      await t.cleanup();
      expect(stdout.trim()).toBe('notAfter=Jun 30 12:00:00 2060 GMT');
    });
  });
});

/**
 * Pinned by the known-answer test above: the TBSCertificate for device d-kat-0001 (fixed device
 * and issuing keys, serial 5a*16, 2026-01-01..2027-01-01). Decode with `openssl asn1parse -inform DER`.
 */
const KAT_DEVICE_TBS_HEX = [
  '308201bea00302010202105a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a300a06082a8648ce3d0403023029310d300b060355',
  '040a0c0461636d653118301606035504030c0f61636d652049737375696e67204341301e170d32363031303130303030',
  '30305a170d3237303130313030303030305a30153113301106035504030c0a642d6b61742d303030313059301306072a',
  '8648ce3d020106082a8648ce3d030107034200042bd4af5ae967abc64708570fe9a687b88646a34a4a9e05af6ca21f57',
  '32a72488187fd9f6a95aa5faa04fc9d368a33e214606c26ada3c63665dfe5a0068ac6e9da381db3081d8300c0603551d',
  '130101ff04023000300e0603551d0f0101ff04040302078030130603551d25040c300a06082b06010505070302302a06',
  '03551d1104233021861f75726e3a74756e6e656c6b65793a6465766963653a642d6b61742d30303031301d0603551d0e',
  '0416041425f0c4c41824b772cafb25d6096cc5d5e0f57d8a301f0603551d2304183016801442a0ff90bcb7d365e70f42',
  'e41aadbe7f547c6e9c30370603551d1f0430302e302ca02aa0288626687474703a2f2f63612e74756e6e656c6b65792e',
  '6c6f63616c2f63726c2f61636d652e63726c',
].join('');
