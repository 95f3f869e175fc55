/**
 * GeneralNames (RFC 5280 4.2.1.6) read with the strict DER reader, for SubjectAltName,
 * AuthorityKeyIdentifier and CRLDistributionPoints. Every form is checked for shape; we keep the
 * URIs and DNS names (the forms we use), as text byte-per-character like asn1js's IA5String.
 */
import { contentBytes, decodeOid, DerReader, TAG, type DerElement } from '../encoding/der-reader.js';
import { MalformedPkiObjectError } from '../errors.js';
import { readName } from '../name-reader.js';

export interface ReadGeneralNames {
  readonly uris: string[];
  readonly dnsNames: string[];
}

const ia5 = (content: Uint8Array, what: string): string => {
  let s = '';
  for (let i = 0; i < content.length; i++) {
    const c = content[i]!;
    if (c > 0x7f) throw new MalformedPkiObjectError(`${what}: IA5String holds a non-ASCII octet`, { what });
    s += String.fromCharCode(c);
  }
  return s;
};

/** One GeneralName at `e`; URIs and DNS names are appended to `out`, other forms only checked. */
export const readGeneralName = (der: Uint8Array, e: DerElement, what: string, out: ReadGeneralNames): void => {
  switch (e.tag) {
    case 0xa0: {
      // otherName: SEQUENCE { type-id OBJECT IDENTIFIER, value [0] EXPLICIT ANY }, tagged implicitly.
      const other = DerReader.inside(der, e, what);
      decodeOid(contentBytes(der, other.expect(TAG.OID, 'otherName type')), what);
      const value = DerReader.inside(der, other.expect(0xa0, 'otherName value'), what);
      value.next();
      value.end('otherName value');
      other.end('otherName');
      return;
    }
    case 0x81: // rfc822Name
      ia5(contentBytes(der, e), what);
      return;
    case 0x82:
      out.dnsNames.push(ia5(contentBytes(der, e), what));
      return;
    case 0x86:
      out.uris.push(ia5(contentBytes(der, e), what));
      return;
    case 0xa3: // x400Address
    case 0xa5: // ediPartyName
      return;
    case 0xa4: {
      // directoryName: [4] EXPLICIT Name.
      const inner = DerReader.inside(der, e, what);
      readName(der, inner.expect(TAG.SEQUENCE, 'directoryName'));
      inner.end('directoryName');
      return;
    }
    case 0x87: {
      const length = e.end - e.contentStart;
      if (length !== 4 && length !== 16)
        throw new MalformedPkiObjectError(`${what}: iPAddress must be 4 or 16 octets`, { what, length });
      return;
    }
    case 0x88:
      decodeOid(contentBytes(der, e), what);
      return;
    default:
      throw new MalformedPkiObjectError(`${what}: unknown GeneralName form`, { what, tag: e.tag });
  }
};

/** The contents of a GeneralNames element (SEQUENCE SIZE (1..MAX) OF GeneralName, however tagged). */
export const readGeneralNames = (der: Uint8Array, names: DerElement, what: string): ReadGeneralNames => {
  const out: ReadGeneralNames = { uris: [], dnsNames: [] };
  const list = DerReader.inside(der, names, what);
  if (list.done) throw new MalformedPkiObjectError(`${what}: empty GeneralNames`, { what });
  while (!list.done) readGeneralName(der, list.next(), what, out);
  return out;
};
