/** Profile: an issuing CA (one per owner/tenant), signed by the root. It signs device certificates and CRLs. */
import { BasicConstraints } from '../extensions/basic-constraints.js';
import { CrlDistributionPoints } from '../extensions/crl-distribution-points.js';
import { AuthorityKeyIdentifier, SubjectKeyIdentifier } from '../extensions/key-identifiers.js';
import { KeyUsage } from '../extensions/key-usage.js';
import type { X509Extension } from '../extensions/extension.js';
import { encodeName, type DistinguishedName } from '../name.js';
import { randomSerial, type RandomSource } from '../serial.js';
import { signCertificate, type IssuedCertificate } from './certificate-template.js';
import { assertWithinIssuer, type CertificateIssuer } from './issuer.js';

export interface IssuingCaRequest {
  subject: DistinguishedName;
  /** DER SPKI of the issuing CA's key. */
  publicKeySpki: Uint8Array;
  /** The root (see loadIssuer). */
  issuer: CertificateIssuer;
  notBefore: Date;
  notAfter: Date;
  /** 0: this CA signs end-entity certificates only. */
  pathLength?: number;
  /** Where the root's CRL is published, if it publishes one. */
  crlDistributionPointUrl?: string;
  serial?: Uint8Array;
  random?: RandomSource;
}

export const buildIssuingCaCertificate = async (req: IssuingCaRequest): Promise<IssuedCertificate> => {
  assertWithinIssuer(req.issuer, req.notBefore, req.notAfter);
  const extensions: X509Extension[] = [
    BasicConstraints.of({ ca: true, pathLength: req.pathLength ?? 0 }),
    KeyUsage.of(['digitalSignature', 'keyCertSign', 'cRLSign']),
    SubjectKeyIdentifier.fromSpki(req.publicKeySpki),
    AuthorityKeyIdentifier.of(req.issuer.keyId),
  ];
  if (req.crlDistributionPointUrl) extensions.push(CrlDistributionPoints.of([req.crlDistributionPointUrl]));
  return signCertificate(
    {
      subject: encodeName(req.subject),
      issuer: req.issuer.subject,
      subjectPublicKeySpki: req.publicKeySpki,
      serial: req.serial ?? randomSerial(req.random),
      notBefore: req.notBefore,
      notAfter: req.notAfter,
      extensions,
    },
    req.issuer.signer,
  );
};
