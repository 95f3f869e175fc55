/**
 * Certificate parsing: DER/PEM -> a typed view (for checks) and a plain summary (for the console).
 * parseCertificate reads with the strict DER reader and makes pkijs objects only if a caller asks
 * for them; parseCertificateWithPkijs is the asn1js/pkijs reference the tests compare it with.
 */
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
import { nameAttribute, nameDer, nameToString } from '../name.js';
import { OID } from '../oids.js';
import { readCertificate, type CertificateParts } from './read-certificate.js';

/** Certificates larger than this are refused before decoding (ours are < 1 KiB). */
export const MAX_CERTIFICATE_BYTES = 16 * 1024;

export interface ParsedCertificate {
  readonly der: Uint8Array;
  readonly tbsDer: Uint8Array;
  /**
   * The pkijs object, for callers that need a field we do not surface. parseCertificate decodes it
   * on first access only (milliseconds); prefer the fields below.
   */
  readonly pkijs: InstanceType<typeof pkijs.Certificate>;
  /** The subject as a pkijs name (decoded on first access by parseCertificate; prefer `subjectDer`/`subjectName`). */
  readonly subject: InstanceType<typeof pkijs.RelativeDistinguishedNames>;
  /** The issuer as a pkijs name (decoded on first access by parseCertificate; prefer `issuerDer`/`issuerName`). */
  readonly issuer: InstanceType<typeof pkijs.RelativeDistinguishedNames>;
  /** The subject Name's DER, verbatim: what issuer/subject chaining compares. */
  readonly subjectDer: Uint8Array;
  readonly issuerDer: Uint8Array;
  /** `nameToString` of the subject / issuer, e.g. `O=acme, CN=acme Issuing CA`. */
  readonly subjectName: string;
  readonly issuerName: string;
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

type ExtensionFields = Pick<
  ParsedCertificate,
  | 'subjectAltName'
  | 'extendedKeyUsage'
  | 'keyUsage'
  | 'basicConstraints'
  | 'subjectKeyIdentifier'
  | 'authorityKeyIdentifier'
  | 'crlDistributionPoints'
  | 'unknownCriticalExtensions'
>;

/** The extension decoders of one path: strict DER (`fromDer`) or the pkijs reference (`fromDerWithPkijs`). */
type Decoders = {
  [K in Exclude<keyof ExtensionFields, 'unknownCriticalExtensions'>]-?: (
    value: Uint8Array,
  ) => NonNullable<ExtensionFields[K]>;
};

const DECODERS: Record<string, keyof Decoders> = {
  [OID.subjectAltName]: 'subjectAltName',
  [OID.extKeyUsage]: 'extendedKeyUsage',
  [OID.keyUsage]: 'keyUsage',
  [OID.basicConstraints]: 'basicConstraints',
  [OID.subjectKeyIdentifier]: 'subjectKeyIdentifier',
  [OID.authorityKeyIdentifier]: 'authorityKeyIdentifier',
  [OID.crlDistributionPoints]: 'crlDistributionPoints',
};

const STRICT: Decoders = {
  subjectAltName: (v) => SubjectAltName.fromDer(v),
  extendedKeyUsage: (v) => ExtendedKeyUsage.fromDer(v),
  keyUsage: (v) => KeyUsage.fromDer(v),
  basicConstraints: (v) => BasicConstraints.fromDer(v),
  subjectKeyIdentifier: (v) => SubjectKeyIdentifier.fromDer(v),
  authorityKeyIdentifier: (v) => AuthorityKeyIdentifier.fromDer(v),
  crlDistributionPoints: (v) => CrlDistributionPoints.fromDer(v),
};

const WITH_PKIJS: Decoders = {
  subjectAltName: (v) => SubjectAltName.fromDerWithPkijs(v),
  extendedKeyUsage: (v) => ExtendedKeyUsage.fromDerWithPkijs(v),
  keyUsage: (v) => KeyUsage.fromDerWithPkijs(v),
  basicConstraints: (v) => BasicConstraints.fromDerWithPkijs(v),
  subjectKeyIdentifier: (v) => SubjectKeyIdentifier.fromDerWithPkijs(v),
  authorityKeyIdentifier: (v) => AuthorityKeyIdentifier.fromDerWithPkijs(v),
  crlDistributionPoints: (v) => CrlDistributionPoints.fromDerWithPkijs(v),
};

const decodeExtensions = (
  extensions: Iterable<{ oid: string; critical: boolean; value: Uint8Array }>,
  decoders: Decoders,
): ExtensionFields => {
  const seen = new Set<string>();
  const unknownCritical: string[] = [];
  const parsed: Record<string, unknown> = {};
  for (const ext of extensions) {
    if (seen.has(ext.oid)) throw new MalformedPkiObjectError('duplicate extension', { oid: ext.oid });
    seen.add(ext.oid);
    const field = DECODERS[ext.oid];
    if (field) parsed[field] = decoders[field](ext.value);
    else if (ext.critical) unknownCritical.push(ext.oid);
  }
  return { ...(parsed as Partial<ExtensionFields>), unknownCriticalExtensions: unknownCritical };
};

const boundedDer = (input: Uint8Array | string): Uint8Array => {
  if (typeof input === 'string' && input.length > MAX_CERTIFICATE_BYTES * 2) {
    throw new MalformedPkiObjectError('certificate too large', { length: input.length, max: MAX_CERTIFICATE_BYTES });
  }
  const der = derFrom(input, 'CERTIFICATE');
  if (der.byteLength > MAX_CERTIFICATE_BYTES) {
    throw new MalformedPkiObjectError('certificate too large', { length: der.byteLength, max: MAX_CERTIFICATE_BYTES });
  }
  return der;
};

const pkijsCertificate = (der: Uint8Array) => {
  const asn1 = parseAsn1(der, 'Certificate');
  return decodeWith('Certificate', () => new pkijs.Certificate({ schema: asn1 }));
};

const pkijsName = (der: Uint8Array) => decodeWith('Name', () => pkijs.RelativeDistinguishedNames.fromBER(der.slice()));

/** Unsigned hex of INTEGER contents without leading zero octets (as `integerHex`). */
const serialHexOf = (content: Uint8Array): string => {
  let start = 0;
  while (start < content.length - 1 && content[start] === 0) start++;
  return toHex(content.subarray(start));
};

/** parseCertificate's result: plain fields from the strict reader, pkijs objects only when asked for. */
class StrictlyParsedCertificate implements ParsedCertificate {
  readonly tbsDer: Uint8Array;
  readonly subjectDer: Uint8Array;
  readonly issuerDer: Uint8Array;
  readonly subjectName: string;
  readonly issuerName: string;
  readonly subjectCommonName: string | undefined;
  readonly serialHex: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spki: Uint8Array;
  readonly signatureAlgorithmOid: string;
  readonly signature: Uint8Array;
  declare readonly subjectAltName?: SubjectAltName;
  declare readonly extendedKeyUsage?: ExtendedKeyUsage;
  declare readonly keyUsage?: KeyUsage;
  declare readonly basicConstraints?: BasicConstraints;
  declare readonly subjectKeyIdentifier?: SubjectKeyIdentifier;
  declare readonly authorityKeyIdentifier?: AuthorityKeyIdentifier;
  declare readonly crlDistributionPoints?: CrlDistributionPoints;
  readonly unknownCriticalExtensions: readonly string[];
  #pkijs: InstanceType<typeof pkijs.Certificate> | undefined;
  #subject: InstanceType<typeof pkijs.RelativeDistinguishedNames> | undefined;
  #issuer: InstanceType<typeof pkijs.RelativeDistinguishedNames> | undefined;

  constructor(
    readonly der: Uint8Array,
    parts: CertificateParts,
    extensions: ExtensionFields,
  ) {
    this.tbsDer = parts.tbs.slice();
    this.subjectDer = parts.subjectDer.slice();
    this.issuerDer = parts.issuerDer.slice();
    this.subjectName = parts.subject.text;
    this.issuerName = parts.issuer.text;
    this.subjectCommonName = parts.subject.commonName;
    this.serialHex = serialHexOf(parts.serial);
    this.notBefore = parts.notBefore;
    this.notAfter = parts.notAfter;
    this.spki = parts.spki.slice();
    this.signatureAlgorithmOid = parts.signatureAlgorithmOid;
    this.signature = parts.signature.slice();
    this.unknownCriticalExtensions = extensions.unknownCriticalExtensions;
    // Only the extensions present become own properties, as in the pkijs path's object.
    for (const key of Object.keys(extensions) as Array<keyof ExtensionFields>) {
      if (key !== 'unknownCriticalExtensions') Object.assign(this, { [key]: extensions[key] });
    }
  }

  get pkijs(): InstanceType<typeof pkijs.Certificate> {
    return (this.#pkijs ??= pkijsCertificate(this.der));
  }

  get subject(): InstanceType<typeof pkijs.RelativeDistinguishedNames> {
    return (this.#subject ??= pkijsName(this.subjectDer));
  }

  get issuer(): InstanceType<typeof pkijs.RelativeDistinguishedNames> {
    return (this.#issuer ??= pkijsName(this.issuerDer));
  }
}

/** Parses a certificate with the strict DER reader (read-certificate.ts); does not verify anything. */
export const parseCertificate = (input: Uint8Array | string): ParsedCertificate => {
  const der = boundedDer(input);
  const parts = readCertificate(der);
  if (parts.version !== 3)
    throw new MalformedPkiObjectError('only X.509 v3 certificates are accepted', { version: parts.version - 1 });
  return new StrictlyParsedCertificate(der, parts, decodeExtensions(parts.extensions, STRICT));
};

/** The same through asn1js/pkijs: the reference the strict reader is tested against (much slower). */
export const parseCertificateWithPkijs = (input: Uint8Array | string): ParsedCertificate => {
  const der = boundedDer(input);
  const cert = pkijsCertificate(der);
  if (cert.version !== 2)
    throw new MalformedPkiObjectError('only X.509 v3 certificates are accepted', { version: cert.version });
  const extensions = decodeExtensions(
    (cert.extensions ?? []).map((ext) => ({ oid: ext.extnID, critical: ext.critical, value: extensionValue(ext) })),
    WITH_PKIJS,
  );
  return {
    der,
    tbsDer: cert.tbsView.slice(),
    pkijs: cert,
    subject: cert.subject,
    issuer: cert.issuer,
    subjectDer: nameDer(cert.subject),
    issuerDer: nameDer(cert.issuer),
    subjectName: nameToString(cert.subject),
    issuerName: nameToString(cert.issuer),
    subjectCommonName: nameAttribute(cert.subject, OID.commonName),
    serialHex: integerHex(cert.serialNumber),
    notBefore: cert.notBefore.value,
    notAfter: cert.notAfter.value,
    spki: asBytes(cert.subjectPublicKeyInfo.toSchema().toBER(false)),
    signatureAlgorithmOid: cert.signatureAlgorithm.algorithmId,
    signature: cert.signatureValue.valueBlock.valueHexView.slice(),
    ...extensions,
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
    subject: c.subjectName,
    subjectCommonName: c.subjectCommonName,
    issuer: c.issuerName,
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
