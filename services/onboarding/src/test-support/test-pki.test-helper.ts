/**
 * Certificates for tests against a real broker: a platform hierarchy (root + issuing CA) built
 * with @tunnelkey/pki, device leaf certificates for P-256 keys generated here, and CRLs. The
 * broker's own server identity comes from @tunnelkey/testing (createBrokerServerIdentity).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  buildCrl,
  buildDeviceCertificate,
  buildIssuingCaCertificate,
  buildRootCaCertificate,
  generateP256KeyPair,
  loadIssuer,
  WebCryptoSigner,
  type CertificateIssuer,
  type IssuedCertificate,
  type RevocationReason,
} from '@tunnelkey/pki';

export interface TestAuthority {
  authorityId: string;
  root: IssuedCertificate;
  issuing: IssuedCertificate;
  issuer: CertificateIssuer;
  /** Issuing CA first, then the root: what CertificateIssued.chainPem carries. */
  chainPem: string[];
  crlNumber: number;
}

export interface TestDevice {
  deviceId: string;
  certificatePem: string;
  serialHex: string;
  keyPem: string;
  /** DER SubjectPublicKeyInfo of the device key. */
  spkiDer: Uint8Array;
  fingerprintSha256: string;
}

const notBefore = () => new Date(Date.now() - 60 * 60 * 1000);
const years = (n: number, from = Date.now()) => new Date(from + n * 365 * 24 * 60 * 60 * 1000);

/** A root CA: what onboarding pins (TRUSTED_ROOT_SHA256 = `root.fingerprintSha256`). */
export interface TestRoot {
  root: IssuedCertificate;
  rootIssuer: CertificateIssuer;
}

/** A root valid around `at` (default: now). */
export async function createTestRoot(name = 'acme', at = new Date()): Promise<TestRoot> {
  const rootSigner = await WebCryptoSigner.fromKeyPair(await generateP256KeyPair());
  const root = await buildRootCaCertificate({
    subject: { commonName: `${name} test root`, organization: 'tunnelkey-test' },
    signer: rootSigner,
    notBefore: new Date(at.getTime() - 60 * 60 * 1000),
    notAfter: years(5, at.getTime()),
  });
  return { root, rootIssuer: loadIssuer({ certificate: root.der, signer: rootSigner }) };
}

/**
 * An issuing CA under `options.root` (default: a root of its own), valid around `options.at`
 * (default: now), with an authority id of its own unless `options.authorityId` names one.
 */
export async function createTestAuthority(
  name = 'acme',
  options: { root?: TestRoot; at?: Date; authorityId?: string } = {},
): Promise<TestAuthority> {
  const at = options.at ?? new Date();
  const { root, rootIssuer } = options.root ?? (await createTestRoot(name, at));
  const issuingSigner = await WebCryptoSigner.fromKeyPair(await generateP256KeyPair());
  const issuing = await buildIssuingCaCertificate({
    subject: { commonName: `${name} issuing CA`, organization: 'tunnelkey-test' },
    publicKeySpki: issuingSigner.publicKeySpki,
    issuer: rootIssuer,
    notBefore: new Date(at.getTime() - 60 * 60 * 1000),
    notAfter: years(4, at.getTime()),
  });
  return {
    authorityId: options.authorityId ?? `ca-${name}-${randomBytes(3).toString('hex')}`,
    root,
    issuing,
    issuer: loadIssuer({ certificate: issuing.der, signer: issuingSigner }),
    chainPem: [issuing.pem, root.pem],
    crlNumber: 0,
  };
}

/** A device key and its certificate under `authority`, valid around `options.at` (default: now). */
export async function issueTestDevice(
  authority: TestAuthority,
  deviceId: string,
  options: { at?: Date } = {},
): Promise<TestDevice> {
  const at = options.at?.getTime() ?? Date.now();
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spkiDer = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
  const certificate = await buildDeviceCertificate({
    deviceId,
    publicKeySpki: spkiDer,
    issuer: authority.issuer,
    notBefore: new Date(at - 60 * 60 * 1000),
    notAfter: years(1, at),
    crlDistributionPointUrl: `http://127.0.0.1/crl/${authority.authorityId}.crl`,
  });
  return {
    deviceId,
    certificatePem: certificate.pem,
    serialHex: certificate.serialHex,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    spkiDer,
    fingerprintSha256: certificate.fingerprintSha256,
  };
}

/** The authority's next CRL (its number increases every call), or the one numbered `options.crlNumber`. */
export async function issueTestCrl(
  authority: TestAuthority,
  revoked: readonly { serialHex: string; reason?: RevocationReason }[] = [],
  options: { crlNumber?: number } = {},
): Promise<{ crlPem: string; crlNumber: number }> {
  const crlNumber = options.crlNumber ?? authority.crlNumber + 1;
  authority.crlNumber = Math.max(authority.crlNumber, crlNumber);
  const crl = await buildCrl({
    issuer: authority.issuer,
    thisUpdate: notBefore(),
    nextUpdate: years(1),
    crlNumber: BigInt(crlNumber),
    revoked: revoked.map((r) => ({
      serialHex: r.serialHex,
      revokedAt: new Date(Date.now() - 1000),
      reason: r.reason ?? 'keyCompromise',
    })),
  });
  return { crlPem: crl.pem, crlNumber };
}
