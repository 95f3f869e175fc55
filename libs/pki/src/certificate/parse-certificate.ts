/** Certificate parsing: DER/PEM -> a typed view (for checks) and a plain summary (for the console). */
import { createHash } from 'node:crypto';
import { pkijs } from '../engine.js';
import { asBytes, toHex } from '../encoding/bytes.js';
import { decodeWith, integerHex, parseAsn1 } from '../encoding/der.js';
import { derFrom } from '../encoding/pem.js';
import { MalformedPkiObjectError } from '../errors.js';
import { BasicConstraints } from '../extensions/basic-constraints.js';
import { CrlDistributionPoints } from '../extensions/crl-distribution-points.js';
import { ExtendedKeyUsage } from '../extensions/extended-key-usage.js';
import { extensionValue } from '../extensions/extension.js';
import { AuthorityKeyIdentifier, SubjectKeyIdentifier } from '../extensions/key-identifiers.js';
import { KeyUsage } from '../extensions/key-usage.js';
import { SubjectAltName } from '../extensions/subject-alt-name.js';
import { nameAttribute, nameToString } from '../name.js';
import { OID } from '../oids.js';

/** Certificates larger than this are refused before decoding (ours are < 1 KiB). */
export const MAX_CERTIFICATE_BYTES = 16 * 1024;

export interface ParsedCertificate {
  readonly der: Uint8Array;
  readonly tbsDer: Uint8Array;
  /** The pkijs object, for callers that need a field we do not surface. */
  readonly pkijs: InstanceType<typeof pkijs.Certificate>;
  readonly subject: InstanceType<typeof pkijs.RelativeDistinguishedNames>;
  readonly issuer: InstanceType<typeof pkijs.RelativeDistinguishedNames>;
  readonly subjectCommonName: string | undefined;
  readonly serialHex: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spki: Uint8Array;
  readonly signatureAlgorithmOid: string;
  readonly signature: Uint8Array;
  readonly subjectAltName?: SubjectAltName;
  readonly extendedKeyUsage?: ExtendedKeyUsage;
  readonly keyUsage?: KeyUsage;
  readonly basicConstraints?: BasicConstraints;
  readonly subjectKeyIdentifier?: SubjectKeyIdentifier;
  readonly authorityKeyIdentifier?: AuthorityKeyIdentifier;
  readonly crlDistributionPoints?: CrlDistributionPoints;
  /** OIDs of critical extensions we do not understand: RFC 5280 says such a certificate must be rejected. */
  readonly unknownCriticalExtensions: readonly string[];
}

const KNOWN = new Set<string>([
  OID.subjectAltName,
  OID.extKeyUsage,
  OID.keyUsage,
  OID.basicConstraints,
  OID.subjectKeyIdentifier,
  OID.authorityKeyIdentifier,
  OID.crlDistributionPoints,
]);

export const parseCertificate = (input: Uint8Array | string): ParsedCertificate => {
  const der = derFrom(input, 'CERTIFICATE');
  if (der.byteLength > MAX_CERTIFICATE_BYTES) {
    throw new MalformedPkiObjectError('certificate too large', { length: der.byteLength, max: MAX_CERTIFICATE_BYTES });
  }
  const asn1 = parseAsn1(der, 'Certificate');
  const cert = decodeWith('Certificate', () => new pkijs.Certificate({ schema: asn1 }));
  if (cert.version !== 2) throw new MalformedPkiObjectError('only X.509 v3 certificates are accepted', { version: cert.version });

  const exts = cert.extensions ?? [];
  const seen = new Set<string>();
  const unknownCritical: string[] = [];
  const parsed: Record<string, unknown> = {};
  for (const ext of exts) {
    if (seen.has(ext.extnID)) throw new MalformedPkiObjectError('duplicate extension', { oid: ext.extnID });
    seen.add(ext.extnID);
    const value = extensionValue(ext);
    switch (ext.extnID) {
      case OID.subjectAltName:
        parsed.subjectAltName = SubjectAltName.fromDer(value);
        break;
      case OID.extKeyUsage:
        parsed.extendedKeyUsage = ExtendedKeyUsage.fromDer(value);
        break;
      case OID.keyUsage:
        parsed.keyUsage = KeyUsage.fromDer(value);
        break;
      case OID.basicConstraints:
        parsed.basicConstraints = BasicConstraints.fromDer(value);
        break;
      case OID.subjectKeyIdentifier:
        parsed.subjectKeyIdentifier = SubjectKeyIdentifier.fromDer(value);
        break;
      case OID.authorityKeyIdentifier:
        parsed.authorityKeyIdentifier = AuthorityKeyIdentifier.fromDer(value);
        break;
      case OID.crlDistributionPoints:
        parsed.crlDistributionPoints = CrlDistributionPoints.fromDer(value);
        break;
      default:
        if (ext.critical && !KNOWN.has(ext.extnID)) unknownCritical.push(ext.extnID);
    }
  }

  return {
    der,
    tbsDer: cert.tbsView.slice(),
    pkijs: cert,
    subject: cert.subject,
    issuer: cert.issuer,
    subjectCommonName: nameAttribute(cert.subject, OID.commonName),
    serialHex: integerHex(cert.serialNumber),
    notBefore: cert.notBefore.value,
    notAfter: cert.notAfter.value,
    spki: asBytes(cert.subjectPublicKeyInfo.toSchema().toBER(false)),
    signatureAlgorithmOid: cert.signatureAlgorithm.algorithmId,
    signature: cert.signatureValue.valueBlock.valueHexView.slice(),
    ...(parsed as Partial<ParsedCertificate>),
    unknownCriticalExtensions: unknownCritical,
  };
};

/** What the console shows about a certificate: plain JSON-safe values only. */
export interface CertificateSummary {
  subject: string;
  subjectCommonName: string | undefined;
  issuer: string;
  serialHex: string;
  notBefore: string;
  notAfter: string;
  /** SHA-256 of the DER, lowercase hex (openssl prints the same bytes upper-case with colons). */
  fingerprintSha256: string;
  sanUris: string[];
  sanDnsNames: string[];
  extendedKeyUsages: string[];
  keyUsages: string[];
  isCA: boolean;
  pathLength: number | undefined;
  subjectKeyId: string | undefined;
  authorityKeyId: string | undefined;
  crlDistributionPoints: string[];
}

export const summarizeCertificate = (input: Uint8Array | string | ParsedCertificate): CertificateSummary => {
  const c = typeof input === 'string' || input instanceof Uint8Array ? parseCertificate(input) : input;
  return {
    subject: nameToString(c.subject),
    subjectCommonName: c.subjectCommonName,
    issuer: nameToString(c.issuer),
    serialHex: c.serialHex,
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    fingerprintSha256: toHex(createHash('sha256').update(c.der).digest()),
    sanUris: [...(c.subjectAltName?.uris ?? [])],
    sanDnsNames: [...(c.subjectAltName?.dnsNames ?? [])],
    extendedKeyUsages: c.extendedKeyUsage?.purposes ?? [],
    keyUsages: [...(c.keyUsage?.usages ?? [])],
    isCA: c.basicConstraints?.ca ?? false,
    pathLength: c.basicConstraints?.pathLength,
    subjectKeyId: c.subjectKeyIdentifier?.hex,
    authorityKeyId: c.authorityKeyIdentifier?.hex,
    crlDistributionPoints: [...(c.crlDistributionPoints?.urls ?? [])],
  };
};
