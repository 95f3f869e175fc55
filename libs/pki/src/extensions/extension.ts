/**
 * Common shape of our extension classes: each can be built from typed arguments (static `of`)
 * or read back from an extnValue (static `fromDer`), and turned into a pkijs Extension.
 */
import type * as asn1js from 'asn1js';
import { pkijs } from '../engine.js';
import { asBytes } from '../encoding/bytes.js';
import { TAG } from '../encoding/der-reader.js';
import { oidTlv, tlv } from '../encoding/der-writer.js';

export type PkijsExtension = InstanceType<typeof pkijs.Extension>;

export interface X509Extension {
  readonly oid: string;
  readonly critical: boolean;
  /** extnValue contents (the DER inside the OCTET STRING). */
  toDer(): Uint8Array;
  toExtension(): PkijsExtension;
}

export const encodeValue = (value: { toSchema(): asn1js.AsnType } | asn1js.BaseBlock): Uint8Array =>
  asBytes('toSchema' in value ? value.toSchema().toBER(false) : value.toBER(false));

export const toPkijsExtension = (ext: Pick<X509Extension, 'oid' | 'critical' | 'toDer'>): PkijsExtension => {
  const der = ext.toDer();
  return new pkijs.Extension({
    extnID: ext.oid,
    critical: ext.critical,
    extnValue: der.buffer.slice(der.byteOffset, der.byteOffset + der.byteLength) as ArrayBuffer,
  });
};

/** The extnValue contents of a parsed extension. */
export const extensionValue = (ext: PkijsExtension): Uint8Array => ext.extnValue.valueBlock.valueHexView;

export const findExtension = (extensions: PkijsExtension[] | undefined, oid: string): PkijsExtension | undefined =>
  extensions?.find((e) => e.extnID === oid);

const CRITICAL = new Uint8Array([0x01, 0x01, 0xff]); // BOOLEAN TRUE

/** Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE, extnValue OCTET STRING }, written as DER. */
export const extensionTlv = (oid: Uint8Array, critical: boolean, value: Uint8Array): Uint8Array =>
  tlv(TAG.SEQUENCE, oid, ...(critical ? [CRITICAL] : []), tlv(TAG.OCTET_STRING, value));

/** An extension object's full DER, its value taken from the class itself so the fixed parts cannot drift. */
export const extensionDer = (ext: Pick<X509Extension, 'oid' | 'critical' | 'toDer'>): Uint8Array =>
  extensionTlv(oidTlv(ext.oid), ext.critical, ext.toDer());
