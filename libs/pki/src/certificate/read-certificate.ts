/**
 * X.509 certificates (RFC 5280 4.1) read with the strict DER reader: the hot path of devices
 * checking delivered certificates, of the CA loading authorities and of the console's summaries.
 * asn1js/pkijs take milliseconds per certificate building objects we mostly throw away; here we
 * walk the TLVs once and keep views. The pkijs decoder stays in parse-certificate.ts as the
 * reference the tests compare against.
 *
 *   Certificate ::= SEQUENCE { tbsCertificate TBSCertificate, signatureAlgorithm AlgorithmIdentifier,
 *                              signatureValue BIT STRING }
 *   TBSCertificate ::= SEQUENCE { version [0] EXPLICIT INTEGER DEFAULT v1, serialNumber INTEGER,
 *     signature AlgorithmIdentifier, issuer Name, validity SEQUENCE { notBefore Time, notAfter Time },
 *     subject Name, subjectPublicKeyInfo SEQUENCE, issuerUniqueID [1] OPTIONAL,
 *     subjectUniqueID [2] OPTIONAL, extensions [3] EXPLICIT SEQUENCE SIZE (1..MAX) OF Extension OPTIONAL }
 *   Extension ::= SEQUENCE { extnID OBJECT IDENTIFIER, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
 */
import { bytesEqual } from '../encoding/bytes.js';
import {
  checkInteger,
  contentBytes,
  decodeBoolean,
  decodeOid,
  decodeSmallUnsigned,
  decodeTime,
  DerReader,
  elementBytes,
  readSingle,
  TAG,
  type DerElement,
} from '../encoding/der-reader.js';
import { MalformedPkiObjectError } from '../errors.js';
import { readName, type ReadName } from '../name-reader.js';

const WHAT = 'Certificate';

export interface CertificateExtensionPart {
  readonly oid: string;
  readonly critical: boolean;
  /** extnValue contents (a view). */
  readonly value: Uint8Array;
}

export interface CertificateParts {
  /** tbsCertificate, the signed bytes (a view into the input). */
  readonly tbs: Uint8Array;
  /** 1, 2 or 3 as written (v1 when the field is absent). */
  readonly version: number;
  /** serialNumber contents, as encoded (a view). */
  readonly serial: Uint8Array;
  readonly signatureAlgorithmOid: string;
  /** The issuer and subject Names' DER (views), and what they say. */
  readonly issuerDer: Uint8Array;
  readonly issuer: ReadName;
  readonly subjectDer: Uint8Array;
  readonly subject: ReadName;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** The SubjectPublicKeyInfo's DER, verbatim (a view). */
  readonly spki: Uint8Array;
  readonly extensions: readonly CertificateExtensionPart[];
  /** BIT STRING contents without the unused-bits octet (a view). */
  readonly signature: Uint8Array;
}

const fail = (message: string, context: Record<string, string | number> = {}): never => {
  throw new MalformedPkiObjectError(`${WHAT}: ${message}`, { what: WHAT, ...context });
};

/** AlgorithmIdentifier: the OID, with parameters (if any) left to the algorithm check. */
const algorithmOid = (der: Uint8Array, e: DerElement): string => {
  const algorithm = DerReader.inside(der, e, 'AlgorithmIdentifier');
  const oid = decodeOid(contentBytes(der, algorithm.expect(TAG.OID, 'algorithm')), 'AlgorithmIdentifier');
  if (!algorithm.done) {
    // The parameter forms in use: absent (ECDSA), NULL (RSA), a named curve, or a SEQUENCE (RSA-PSS, DSA).
    const parameters = algorithm.next();
    const ok =
      parameters.tag === TAG.OID ||
      parameters.tag === TAG.SEQUENCE ||
      (parameters.tag === TAG.NULL && parameters.end === parameters.contentStart);
    if (!ok) fail('unsupported AlgorithmIdentifier parameters', { tag: parameters.tag });
    if (parameters.tag === TAG.OID) decodeOid(contentBytes(der, parameters), 'AlgorithmIdentifier');
  }
  algorithm.end('parameters');
  return oid;
};

/** SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }: shape only (keys are checked where used). */
const checkSpki = (der: Uint8Array, e: DerElement): void => {
  const spki = DerReader.inside(der, e, 'SubjectPublicKeyInfo');
  algorithmOid(der, spki.expect(TAG.SEQUENCE, 'algorithm'));
  const bits = contentBytes(der, spki.expect(TAG.BIT_STRING, 'subjectPublicKey'));
  spki.end('subjectPublicKey');
  if (bits.length === 0 || bits[0]! > 7) fail('subjectPublicKey is not a BIT STRING');
};

const readExtensions = (der: Uint8Array, wrapper: DerElement): CertificateExtensionPart[] => {
  const outer = DerReader.inside(der, wrapper, 'Extensions');
  const list = DerReader.inside(der, outer.expect(TAG.SEQUENCE, 'Extensions'), 'Extensions');
  outer.end('Extensions');
  if (list.done) fail('empty extensions');
  const out: CertificateExtensionPart[] = [];
  while (!list.done) {
    const ext = DerReader.inside(der, list.expect(TAG.SEQUENCE, 'Extension'), 'Extension');
    const oid = decodeOid(contentBytes(der, ext.expect(TAG.OID, 'extnID')), 'Extension');
    const critical = ext.optional(TAG.BOOLEAN);
    // DER (X.690 11.5): a DEFAULT value is never encoded, so a present `critical` is TRUE.
    if (critical && !decodeBoolean(contentBytes(der, critical), 'Extension'))
      fail('critical FALSE must not be encoded', { oid });
    const value = ext.expect(TAG.OCTET_STRING, 'extnValue');
    ext.end('extnValue');
    out.push({ oid, critical: critical !== undefined, value: contentBytes(der, value) });
  }
  return out;
};

/** Splits a DER certificate into its parts; MalformedPkiObjectError for anything not strict DER of that shape. */
export const readCertificate = (der: Uint8Array): CertificateParts => {
  const cert = DerReader.inside(der, readSingle(der, TAG.SEQUENCE, WHAT), WHAT);
  const tbsElement = cert.expect(TAG.SEQUENCE, 'tbsCertificate');
  const outerAlgorithm = cert.expect(TAG.SEQUENCE, 'signatureAlgorithm');
  const signatureElement = cert.expect(TAG.BIT_STRING, 'signatureValue');
  cert.end('signatureValue');

  const tbs = DerReader.inside(der, tbsElement, 'TBSCertificate');
  let version = 1;
  const versionElement = tbs.optional(TAG.CONTEXT_0);
  if (versionElement) {
    const inner = DerReader.inside(der, versionElement, 'version');
    version = decodeSmallUnsigned(contentBytes(der, inner.expect(TAG.INTEGER, 'version')), 'version') + 1;
    inner.end('version');
    if (version === 1) fail('v1 is the default and must not be encoded');
  }
  const serialElement = tbs.expect(TAG.INTEGER, 'serialNumber');
  const innerAlgorithm = tbs.expect(TAG.SEQUENCE, 'signature');
  const issuerElement = tbs.expect(TAG.SEQUENCE, 'issuer');
  const validity = DerReader.inside(der, tbs.expect(TAG.SEQUENCE, 'validity'), 'Validity');
  const subjectElement = tbs.expect(TAG.SEQUENCE, 'subject');
  const spkiElement = tbs.expect(TAG.SEQUENCE, 'subjectPublicKeyInfo');
  const issuerUniqueId = tbs.optional(0x81);
  const subjectUniqueId = tbs.optional(0x82);
  const extensionsElement = tbs.optional(0xa3);
  tbs.end('extensions');

  const serial = contentBytes(der, serialElement);
  checkInteger(serial, 'serialNumber');
  // RFC 5280 4.1.1.2: the outer signatureAlgorithm must be the one inside the signed TBS.
  if (!bytesEqual(elementBytes(der, innerAlgorithm), elementBytes(der, outerAlgorithm))) {
    fail('signatureAlgorithm differs from the signed TBS signature field');
  }
  const signatureAlgorithmOid = algorithmOid(der, outerAlgorithm);
  const notBefore = decodeTime(der, validity.next(), 'notBefore');
  const notAfter = decodeTime(der, validity.next(), 'notAfter');
  validity.end('notAfter');
  if ((issuerUniqueId || subjectUniqueId) && version < 2) fail('unique identifiers need v2 or v3');
  if (extensionsElement && version < 3) fail('extensions need v3');
  for (const id of [issuerUniqueId, subjectUniqueId]) {
    if (id && (contentBytes(der, id)[0] ?? 8) > 7) fail('unique identifier is not a BIT STRING');
  }
  checkSpki(der, spkiElement);
  const bits = contentBytes(der, signatureElement);
  if (bits.length < 2 || bits[0] !== 0) fail('signature is not a whole-octet BIT STRING');

  return {
    tbs: elementBytes(der, tbsElement),
    version,
    serial,
    signatureAlgorithmOid,
    issuerDer: elementBytes(der, issuerElement),
    issuer: readName(der, issuerElement),
    subjectDer: elementBytes(der, subjectElement),
    subject: readName(der, subjectElement),
    notBefore,
    notAfter,
    spki: elementBytes(der, spkiElement),
    extensions: extensionsElement ? readExtensions(der, extensionsElement) : [],
    signature: bits.subarray(1),
  };
};
