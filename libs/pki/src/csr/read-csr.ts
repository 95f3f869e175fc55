/**
 * PKCS#10 (RFC 2986) read with the strict DER reader: the CA's intake hot path. asn1js/pkijs
 * take ~0.85 ms to decode a device CSR into objects we then mostly throw away; here we walk the
 * TLVs once and keep views of the parts we need. The pkijs decoder stays in parse-csr.ts as the
 * reference the tests compare against.
 *
 *   CertificationRequest ::= SEQUENCE {
 *     certificationRequestInfo SEQUENCE { version INTEGER (0), subject Name,
 *                                         subjectPKInfo SubjectPublicKeyInfo, attributes [0] },
 *     signatureAlgorithm AlgorithmIdentifier, signature BIT STRING }
 */
import {
  contentBytes,
  decodeOid,
  DerReader,
  elementBytes,
  readSingle,
  TAG,
  type DerElement,
} from '../encoding/der-reader.js';
import { MalformedPkiObjectError } from '../errors.js';
import { readName } from '../name-reader.js';

const WHAT = 'CertificationRequest';

export interface CsrParts {
  /** certificationRequestInfo, the signed bytes (a view into the input). */
  readonly info: Uint8Array;
  /** The subject Name's DER (a view). */
  readonly subjectDer: Uint8Array;
  readonly subject: string;
  readonly subjectCommonName: string | undefined;
  /** The SubjectPublicKeyInfo's DER, verbatim (a view). */
  readonly spki: Uint8Array;
  readonly signatureAlgorithmOid: string;
  /** BIT STRING contents without the unused-bits octet (a view). */
  readonly signature: Uint8Array;
}

/** attributes [0] IMPLICIT SET OF Attribute, Attribute ::= SEQUENCE { type OID, values SET }. */
const checkAttributes = (der: Uint8Array, attributes: DerElement): void => {
  const list = DerReader.inside(der, attributes, 'Attributes');
  while (!list.done) {
    const attribute = DerReader.inside(der, list.expect(TAG.SEQUENCE, 'Attribute'), 'Attribute');
    decodeOid(contentBytes(der, attribute.expect(TAG.OID, 'type')), 'Attribute');
    const values = DerReader.inside(der, attribute.expect(TAG.SET, 'values'), 'Attribute');
    while (!values.done) values.next();
    attribute.end('values');
  }
};

/** Splits a DER PKCS#10 into its parts; MalformedPkiObjectError for anything that is not strict DER of that shape. */
export const readCsr = (der: Uint8Array): CsrParts => {
  const csr = DerReader.inside(der, readSingle(der, TAG.SEQUENCE, WHAT), WHAT);
  const infoElement = csr.expect(TAG.SEQUENCE, 'certificationRequestInfo');
  const algorithm = DerReader.inside(der, csr.expect(TAG.SEQUENCE, 'signatureAlgorithm'), 'AlgorithmIdentifier');
  const signatureElement = csr.expect(TAG.BIT_STRING, 'signature');
  csr.end('signature');

  const info = DerReader.inside(der, infoElement, 'CertificationRequestInfo');
  const version = contentBytes(der, info.expect(TAG.INTEGER, 'version'));
  if (version.length !== 1 || version[0] !== 0) {
    throw new MalformedPkiObjectError('unknown PKCS#10 version', { version: version.length === 1 ? version[0]! : -1 });
  }
  const subjectElement = info.expect(TAG.SEQUENCE, 'subject');
  const spkiElement = info.expect(TAG.SEQUENCE, 'subjectPKInfo');
  // RFC 2986 requires [0] even when empty; pkijs (and so this reader) tolerates its absence.
  const attributes = info.optional(TAG.CONTEXT_0);
  info.end('attributes');
  if (attributes) checkAttributes(der, attributes);

  const algorithmOid = decodeOid(contentBytes(der, algorithm.expect(TAG.OID, 'algorithm')), 'AlgorithmIdentifier');
  if (!algorithm.done) algorithm.next(); // parameters (absent for ECDSA; others are refused by algorithm later)
  algorithm.end('parameters');

  const bits = contentBytes(der, signatureElement);
  if (bits.length < 2 || bits[0] !== 0) {
    throw new MalformedPkiObjectError(`${WHAT}: signature is not a whole-octet BIT STRING`, { what: WHAT });
  }
  const name = readName(der, subjectElement);
  return {
    info: elementBytes(der, infoElement),
    subjectDer: elementBytes(der, subjectElement),
    subject: name.text,
    subjectCommonName: name.commonName,
    spki: elementBytes(der, spkiElement),
    signatureAlgorithmOid: algorithmOid,
    signature: bits.subarray(1),
  };
};
