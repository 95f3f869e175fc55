/**
 * The generic step under every certificate profile: a template of typed fields becomes a pkijs
 * TBSCertificate, whose DER is signed through the Signer port. The profiles (root CA, issuing CA,
 * device) only decide which fields and extensions go in.
 */
import { createHash } from 'node:crypto';
import { pkijs } from '../engine.js';
import { asBytes, toHex } from '../encoding/bytes.js';
import { unsignedInteger, x509Time } from '../encoding/der.js';
import { derToPem } from '../encoding/pem.js';
import { InvalidPkiInputError, SignerError } from '../errors.js';
import type { X509Extension } from '../extensions/extension.js';
import { parseEcSpki } from '../keys/spki.js';
import { assertSerial, serialToHex } from '../serial.js';
import { signatureAlgorithm, type SignatureAlgorithmName } from '../signer/algorithms.js';
import type { Signer } from '../signer/signer.js';
import { signWith } from '../signer/sign-tbs.js';

type Rdn = InstanceType<typeof pkijs.RelativeDistinguishedNames>;

export interface CertificateTemplate {
  subject: Rdn;
  /** The issuer's subject exactly as encoded in the issuer certificate. */
  issuer: Rdn;
  subjectPublicKeySpki: Uint8Array;
  serial: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  extensions: readonly X509Extension[];
}

export interface IssuedCertificate {
  der: Uint8Array;
  pem: string;
  /** The signed TBSCertificate bytes; deterministic for fixed inputs (the signature is not). */
  tbsDer: Uint8Array;
  serialHex: string;
  /** SHA-256 of the DER, lowercase hex. */
  fingerprintSha256: string;
  notBefore: Date;
  notAfter: Date;
}

export const assertValidity = (notBefore: Date, notAfter: Date): void => {
  if (!Number.isFinite(notBefore.getTime()) || !Number.isFinite(notAfter.getTime())) {
    throw new InvalidPkiInputError('validity dates must be valid dates', {});
  }
  if (notAfter.getTime() <= notBefore.getTime()) {
    throw new InvalidPkiInputError('notAfter must be later than notBefore', {
      notBefore: notBefore.toISOString(),
      notAfter: notAfter.toISOString(),
    });
  }
};

/** Template -> pkijs Certificate with its TBS encoded (not yet signed). */
export const encodeTbsCertificate = (
  template: CertificateTemplate,
  algorithm: SignatureAlgorithmName,
): InstanceType<typeof pkijs.Certificate> => {
  assertSerial(template.serial);
  assertValidity(template.notBefore, template.notAfter);
  parseEcSpki(template.subjectPublicKeySpki); // refuse keys outside the profile before they get certified
  const oids = new Set<string>();
  for (const e of template.extensions) {
    if (oids.has(e.oid)) throw new InvalidPkiInputError('duplicate extension', { oid: e.oid });
    oids.add(e.oid);
  }
  const sigAlg = new pkijs.AlgorithmIdentifier({ algorithmId: signatureAlgorithm(algorithm).oid });
  const cert = new pkijs.Certificate({
    version: 2, // v3
    serialNumber: unsignedInteger(template.serial),
    signature: sigAlg,
    issuer: template.issuer,
    notBefore: x509Time(template.notBefore),
    notAfter: x509Time(template.notAfter),
    subject: template.subject,
    subjectPublicKeyInfo: pkijs.PublicKeyInfo.fromBER(template.subjectPublicKeySpki),
    extensions: template.extensions.map((e) => e.toExtension()),
    signatureAlgorithm: sigAlg,
  });
  cert.tbsView = asBytes(cert.encodeTBS().toBER(false));
  return cert;
};

/** Encodes the template, signs its TBS through the signer and returns DER/PEM plus what callers record. */
export const signCertificate = async (template: CertificateTemplate, signer: Signer): Promise<IssuedCertificate> => {
  const cert = encodeTbsCertificate(template, signer.algorithm);
  cert.signatureValue = await signWith(signer, cert.tbsView);
  const der = asBytes(cert.toSchema(false).toBER(false));
  if (der.byteLength === 0) throw new SignerError('certificate encoding failed', {});
  return {
    der,
    pem: derToPem(der, 'CERTIFICATE'),
    tbsDer: cert.tbsView.slice(),
    serialHex: serialToHex(template.serial),
    fingerprintSha256: toHex(createHash('sha256').update(der).digest()),
    notBefore: cert.notBefore.value,
    notAfter: cert.notAfter.value,
  };
};
