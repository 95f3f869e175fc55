/**
 * A CA ready to issue: its certificate (parsed once) and the Signer holding its key. Loading
 * checks the pairing so a misconfigured key cannot issue certificates nobody can verify.
 */
import { pkijs } from '../engine.js';
import { wholeSeconds } from '../encoding/der.js';
import { InvalidPkiInputError } from '../errors.js';
import { keyIdentifier, spkiEqual } from '../keys/spki.js';
import type { Signer } from '../signer/signer.js';
import { parseCertificate, type ParsedCertificate } from './parse-certificate.js';

export interface CertificateIssuer {
  readonly certificate: ParsedCertificate;
  readonly signer: Signer;
  /** The issuer name to copy into issued certificates, byte-for-byte. */
  readonly subject: InstanceType<typeof pkijs.RelativeDistinguishedNames>;
  /** Goes into the AuthorityKeyIdentifier of everything this CA signs. */
  readonly keyId: Uint8Array;
}

export const loadIssuer = (args: {
  certificate: Uint8Array | string | ParsedCertificate;
  signer: Signer;
}): CertificateIssuer => {
  const certificate =
    typeof args.certificate === 'string' || args.certificate instanceof Uint8Array
      ? parseCertificate(args.certificate)
      : args.certificate;
  if (!certificate.basicConstraints?.ca) {
    throw new InvalidPkiInputError('issuer certificate is not a CA', { serial: certificate.serialHex });
  }
  if (certificate.keyUsage && !certificate.keyUsage.has('keyCertSign')) {
    throw new InvalidPkiInputError('issuer certificate may not sign certificates (keyUsage)', {
      serial: certificate.serialHex,
    });
  }
  if (!spkiEqual(certificate.spki, args.signer.publicKeySpki)) {
    throw new InvalidPkiInputError('signer key does not match the issuer certificate', {
      serial: certificate.serialHex,
    });
  }
  return {
    certificate,
    signer: args.signer,
    subject: certificate.subject,
    keyId: certificate.subjectKeyIdentifier?.keyId ?? keyIdentifier(certificate.spki),
  };
};

/** RFC 5280 6.1.3: an issued certificate should not outlive its issuer; we refuse rather than clamp silently. */
export const assertWithinIssuer = (issuer: CertificateIssuer, notBefore: Date, notAfter: Date): void => {
  const nb = wholeSeconds(notBefore).getTime();
  const na = wholeSeconds(notAfter).getTime();
  if (nb < issuer.certificate.notBefore.getTime() || na > issuer.certificate.notAfter.getTime()) {
    throw new InvalidPkiInputError('validity must lie within the issuer certificate validity', {
      issuerNotBefore: issuer.certificate.notBefore.toISOString(),
      issuerNotAfter: issuer.certificate.notAfter.toISOString(),
      notBefore: notBefore.toISOString(),
      notAfter: notAfter.toISOString(),
    });
  }
};
