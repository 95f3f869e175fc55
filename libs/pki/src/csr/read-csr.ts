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
import { pkijs } from '../engine.js';
import { contentBytes, decodeOid, DerReader, elementBytes, readSingle, TAG, type DerElement } from '../encoding/der-reader.js';
import { decodeWith } from '../encoding/der.js';
import { MalformedPkiObjectError } from '../errors.js';
import { formatName, nameAttribute, nameToString } from '../name.js';
import { OID } from '../oids.js';

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

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// String types asn1js decodes byte-per-character; UTF8String is decoded strictly. Anything else
// (BMPString, UniversalString, invalid UTF-8) goes to the pkijs name decoder so the text matches.
const LATIN1_TAGS = new Set([0x12, 0x13, 0x14, 0x16, 0x1a]);

const attributeText = (der: Uint8Array, value: DerElement): string | undefined => {
  const content = contentBytes(der, value);
  if (value.tag === TAG.UTF8_STRING) {
    try {
      return strictUtf8.decode(content);
    } catch {
      return undefined;
    }
  }
  if (LATIN1_TAGS.has(value.tag)) {
    let s = '';
    for (let i = 0; i < content.length; i++) s += String.fromCharCode(content[i]!);
    return s;
  }
  return undefined;
};

/** Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value ANY }: structure checked, texts read. */
const readName = (der: Uint8Array, name: DerElement): { subject: string; commonName: string | undefined } => {
  const attributes: Array<{ type: string; text: string }> = [];
  let exotic = false;
  const rdns = DerReader.inside(der, name, 'Name');
  while (!rdns.done) {
    const set = DerReader.inside(der, rdns.expect(TAG.SET, 'RelativeDistinguishedName'), 'RelativeDistinguishedName');
    while (!set.done) {
      const atv = DerReader.inside(der, set.expect(TAG.SEQUENCE, 'AttributeTypeAndValue'), 'AttributeTypeAndValue');
      const type = decodeOid(contentBytes(der, atv.expect(TAG.OID, 'type')), 'AttributeTypeAndValue');
      if (atv.done) throw new MalformedPkiObjectError('AttributeTypeAndValue: value missing', { what: 'Name' });
      const value = atv.next();
      atv.end('value');
      const text = attributeText(der, value);
      if (text === undefined) exotic = true;
      else attributes.push({ type, text });
    }
  }
  if (exotic) {
    const rdn = decodeWith('Name', () => pkijs.RelativeDistinguishedNames.fromBER(elementBytes(der, name).slice()));
    return { subject: nameToString(rdn), commonName: nameAttribute(rdn, OID.commonName) };
  }
  return { subject: formatName(attributes), commonName: attributes.find((a) => a.type === OID.commonName)?.text };
};

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
    subject: name.subject,
    subjectCommonName: name.commonName,
    spki: elementBytes(der, spkiElement),
    signatureAlgorithmOid: algorithmOid,
    signature: bits.subarray(1),
  };
};
