/**
 * Profile: a device's TLS client certificate. CN and a SAN URI carry the device id (brokers map
 * either to the MQTT identity), clientAuth only, digitalSignature only (ECDHE-ECDSA needs no more).
 *
 * Two encoders write this profile: the direct DER writer (device-certificate-der.ts), which issuance
 * uses, and the generic pkijs template below, kept as the reference the tests compare it with.
 */
import { BasicConstraints } from '../extensions/basic-constraints.js';
import { CrlDistributionPoints } from '../extensions/crl-distribution-points.js';
import { ExtendedKeyUsage } from '../extensions/extended-key-usage.js';
import { AuthorityKeyIdentifier, SubjectKeyIdentifier } from '../extensions/key-identifiers.js';
import { KeyUsage } from '../extensions/key-usage.js';
import { SubjectAltName, assertDeviceId } from '../extensions/subject-alt-name.js';
import type { X509Extension } from '../extensions/extension.js';
import { encodeName } from '../name.js';
import { randomSerial, type RandomSource } from '../serial.js';
import { encodeDeviceTbs, signDeviceCertificate } from './device-certificate-der.js';
import {
  encodeTbsCertificate,
  signCertificate,
  type CertificateTemplate,
  type IssuedCertificate,
} from './certificate-template.js';
import { assertWithinIssuer, type CertificateIssuer } from './issuer.js';

export interface DeviceCertificateRequest {
  deviceId: string;
  /** DER SPKI of the device key (from its verified CSR). */
  publicKeySpki: Uint8Array;
  issuer: CertificateIssuer;
  /** Given by the caller (from the command's metadata and the policy's lifetime), never read from a clock here. */
  notBefore: Date;
  notAfter: Date;
  /**
   * Where the issuing CA's CRL is served. Left out for a certificate whose relying party holds the
   * issuer's CRL itself (an onboarding target's broker, which reads its crlfile).
   */
  crlDistributionPointUrl?: string;
  /** Optional extra DNS SANs (gateways that also serve TLS). */
  dnsNames?: readonly string[];
  serial?: Uint8Array;
  random?: RandomSource;
}

const deviceTemplate = (req: DeviceCertificateRequest): CertificateTemplate => {
  assertDeviceId(req.deviceId);
  assertWithinIssuer(req.issuer, req.notBefore, req.notAfter);
  const extensions: X509Extension[] = [
    BasicConstraints.of({ ca: false }),
    KeyUsage.of(['digitalSignature']),
    ExtendedKeyUsage.of(['clientAuth']),
    SubjectAltName.forDevice(req.deviceId, req.dnsNames ?? []),
    SubjectKeyIdentifier.fromSpki(req.publicKeySpki),
    AuthorityKeyIdentifier.of(req.issuer.keyId),
  ];
  if (req.crlDistributionPointUrl !== undefined)
    extensions.push(CrlDistributionPoints.of([req.crlDistributionPointUrl]));
  return {
    subject: encodeName({ commonName: req.deviceId }),
    issuer: req.issuer.subject,
    subjectPublicKeySpki: req.publicKeySpki,
    serial: req.serial ?? randomSerial(req.random),
    notBefore: req.notBefore,
    notAfter: req.notAfter,
    extensions,
  };
};

export const buildDeviceCertificate = (req: DeviceCertificateRequest): Promise<IssuedCertificate> =>
  signDeviceCertificate(req);

/** The TBSCertificate DER a request produces, unsigned: deterministic, for known-answer tests and dry runs. */
export const deviceTbsCertificate = (req: DeviceCertificateRequest): Uint8Array => encodeDeviceTbs(req).tbsDer;

/** Reference encoder: the same profile through pkijs's generic template (slower; tests compare the two). */
export const buildDeviceCertificateWithPkijs = async (req: DeviceCertificateRequest): Promise<IssuedCertificate> =>
  signCertificate(deviceTemplate(req), req.issuer.signer);

/** Reference TBS through pkijs; byte-identical to `deviceTbsCertificate` for the same request. */
export const deviceTbsCertificateWithPkijs = (req: DeviceCertificateRequest): Uint8Array =>
  encodeTbsCertificate(deviceTemplate(req), req.issuer.signer.algorithm).tbsView.slice();
