/**
 * Names read with the strict DER reader: the attributes' texts as asn1js would decode them, the
 * `nameToString` text, the CN, and name comparison with pkijs's semantics
 * (`RelativeDistinguishedNames.isEqual`) without building pkijs objects. String types we do not
 * decode ourselves (BMPString, UniversalString, invalid UTF-8...) fall back to pkijs.
 *
 *   Name ::= SEQUENCE OF SET OF SEQUENCE { type OBJECT IDENTIFIER, value ANY }
 */
import { pkijs } from './engine.js';
import { bytesEqual } from './encoding/bytes.js';
import {
  contentBytes,
  decodeOid,
  DerReader,
  elementBytes,
  readSingle,
  TAG,
  type DerElement,
} from './encoding/der-reader.js';
import { decodeWith } from './encoding/der.js';
import { MalformedPkiObjectError } from './errors.js';
import { formatName, nameAttribute, nameToString } from './name.js';
import { OID } from './oids.js';

export interface NameAttribute {
  readonly type: string;
  /** The value's tag (universal string types for the names we meet). */
  readonly tag: number;
  /** The decoded text, or undefined for a value we leave to pkijs. */
  readonly text: string | undefined;
  /** The value's whole TLV (a view). */
  readonly value: Uint8Array;
}

export interface ReadName {
  /** All attributes in encoding order, RDN boundaries flattened (as pkijs's `typesAndValues`). */
  readonly attributes: readonly NameAttribute[];
  /** `nameToString` of the same name. */
  readonly text: string;
  readonly commonName: string | undefined;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// String types asn1js decodes byte-per-character (Numeric, Printable, Teletex, IA5, Visible).
const LATIN1_TAGS = new Set([0x12, 0x13, 0x14, 0x16, 0x1a]);
// Every universal string type pkijs compares as text in AttributeTypeAndValue.isEqual.
const STRING_TAGS = new Set([0x0c, 0x1e, 0x1c, 0x12, 0x13, 0x14, 0x15, 0x16, 0x19, 0x1a, 0x1b, 0x1d]);

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

const pkijsName = (der: Uint8Array) => decodeWith('Name', () => pkijs.RelativeDistinguishedNames.fromBER(der.slice()));

/** Walks a Name element of `der`: structure checked, texts read (pkijs only for exotic string types). */
export const readName = (der: Uint8Array, name: DerElement): ReadName => {
  const attributes: NameAttribute[] = [];
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
      attributes.push({ type, tag: value.tag, text, value: elementBytes(der, value) });
    }
  }
  if (exotic) {
    const rdn = pkijsName(elementBytes(der, name));
    return { attributes, text: nameToString(rdn), commonName: nameAttribute(rdn, OID.commonName) };
  }
  const texts = attributes as ReadonlyArray<{ type: string; text: string }>;
  return { attributes, text: formatName(texts), commonName: texts.find((a) => a.type === OID.commonName)?.text };
};

/** pkijs's stringPrep: trim, collapse runs of spaces, lower-case. */
const stringPrep = (s: string): string => s.trim().replace(/ +/g, ' ').toLowerCase();

/**
 * Name equality as pkijs decides it (same attributes in order; strings compared after stringPrep,
 * other values byte for byte), starting from the bytes: equal encodings are equal names.
 */
export const sameName = (a: Uint8Array, b: Uint8Array): boolean => {
  if (bytesEqual(a, b)) return true;
  const x = readName(a, readSingle(a, TAG.SEQUENCE, 'Name')).attributes;
  const y = readName(b, readSingle(b, TAG.SEQUENCE, 'Name')).attributes;
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) {
    const p = x[i]!;
    const q = y[i]!;
    if (p.type !== q.type) return false;
    const pString = STRING_TAGS.has(p.tag);
    if (pString !== STRING_TAGS.has(q.tag)) return false;
    if (!pString) {
      if (!bytesEqual(p.value, q.value)) return false;
    } else if (p.text === undefined || q.text === undefined) {
      return pkijsName(a).isEqual(pkijsName(b)); // a string type we do not decode: ask pkijs
    } else if (stringPrep(p.text).localeCompare(stringPrep(q.text)) !== 0) {
      return false;
    }
  }
  return true;
};
