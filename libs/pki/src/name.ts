/**
 * Distinguished names. pkijs puts every attribute of a new name into a single multi-valued RDN,
 * so we encode names ourselves (one attribute per RDN, UTF8String, RFC 5280 order) and hand pkijs
 * the DER. Parsed names keep their original bytes, which is what issuer/subject matching compares.
 */
import * as asn1js from 'asn1js';
import { pkijs } from './engine.js';
import { asBytes, bytesEqual } from './encoding/bytes.js';
import { InvalidPkiInputError } from './errors.js';
import { OID } from './oids.js';

export interface DistinguishedName {
  commonName: string;
  organization?: string;
  organizationalUnit?: string;
  /** ISO 3166 two-letter code (PrintableString, as RFC 5280 requires). */
  country?: string;
}

const SHORT: Record<string, string> = {
  [OID.commonName]: 'CN',
  [OID.countryName]: 'C',
  [OID.organizationName]: 'O',
  [OID.organizationalUnitName]: 'OU',
  [OID.serialNumber]: 'serialNumber',
};

// Upper bounds from RFC 5280 appendix A (ub-common-name etc.).
const MAX = { commonName: 64, organization: 64, organizationalUnit: 64 } as const;

const atv = (type: string, value: asn1js.BaseBlock) =>
  new asn1js.Set({ value: [new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: type }), value] })] });

/** Typed name -> pkijs RelativeDistinguishedNames whose DER is ours (C, O, OU, CN order). */
export const encodeName = (name: DistinguishedName): InstanceType<typeof pkijs.RelativeDistinguishedNames> => {
  const rdns: asn1js.Set[] = [];
  const text = (field: keyof typeof MAX, oid: string) => {
    const v = name[field];
    if (v === undefined) return;
    if (v.length === 0 || v.length > MAX[field]) {
      throw new InvalidPkiInputError(`name ${field} must be 1..${MAX[field]} characters`, { field, length: v.length });
    }
    rdns.push(atv(oid, new asn1js.Utf8String({ value: v })));
  };
  if (name.country !== undefined) {
    if (!/^[A-Z]{2}$/.test(name.country)) throw new InvalidPkiInputError('country must be two capital letters', {});
    rdns.push(atv(OID.countryName, new asn1js.PrintableString({ value: name.country })));
  }
  text('organization', OID.organizationName);
  text('organizationalUnit', OID.organizationalUnitName);
  if (name.commonName === undefined) throw new InvalidPkiInputError('name needs a commonName', {});
  text('commonName', OID.commonName);
  const der = new asn1js.Sequence({ value: rdns }).toBER(false);
  return pkijs.RelativeDistinguishedNames.fromBER(der);
};

export const nameDer = (name: InstanceType<typeof pkijs.RelativeDistinguishedNames>): Uint8Array =>
  asBytes(name.toSchema().toBER(false));

/** Byte comparison of encoded names: we always copy the issuer's subject bytes, so equal means equal. */
export const namesEqual = (
  a: InstanceType<typeof pkijs.RelativeDistinguishedNames>,
  b: InstanceType<typeof pkijs.RelativeDistinguishedNames>,
): boolean => bytesEqual(nameDer(a), nameDer(b)) || a.isEqual(b);

const valueText = (v: unknown): string => {
  const block = v as { valueBlock?: { value?: unknown } };
  const value = block?.valueBlock?.value;
  return typeof value === 'string' ? value : String(value ?? '');
};

/** First value of an attribute (e.g. the CN), or undefined. */
export const nameAttribute = (
  name: InstanceType<typeof pkijs.RelativeDistinguishedNames>,
  oid: string,
): string | undefined => {
  const found = name.typesAndValues.find((t) => t.type === oid);
  return found ? valueText(found.value) : undefined;
};

const escape = (s: string) =>
  s
    .replace(/([,+"\\<>;=])/g, '\\$1')
    .replace(/^([ #])/, '\\$1')
    .replace(/ $/, '\\ ');

/** Attribute (type OID, text) pairs in encoding order -> `O=acme, CN=Acme Issuing CA`. */
export const formatName = (attributes: ReadonlyArray<{ type: string; text: string }>): string =>
  attributes.map((t) => `${SHORT[t.type] ?? t.type}=${escape(t.text)}`).join(', ');

/** Human-readable form in encoding order, e.g. `O=acme, CN=Acme Issuing CA` (for the console and logs). */
export const nameToString = (name: InstanceType<typeof pkijs.RelativeDistinguishedNames>): string =>
  formatName(name.typesAndValues.map((t) => ({ type: t.type, text: valueText(t.value) })));
