import * as asn1js from 'asn1js';
import { toArrayBuffer } from '../encoding/bytes.js';
import { contentBytes, readSingle, TAG } from '../encoding/der-reader.js';
import { parseAsn1 } from '../encoding/der.js';
import { InvalidPkiInputError, MalformedPkiObjectError } from '../errors.js';
import { OID } from '../oids.js';
import { toPkijsExtension, type X509Extension } from './extension.js';

/** KeyUsage bit names in bit order (RFC 5280 4.2.1.3). */
export const KEY_USAGE_BITS = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;

export type KeyUsageName = (typeof KEY_USAGE_BITS)[number];

/** KeyUsage, always critical as RFC 5280 recommends. pkijs has no class for it, so the BIT STRING is ours. */
export class KeyUsage implements X509Extension {
  readonly oid = OID.keyUsage;
  readonly critical = true;

  private constructor(readonly usages: readonly KeyUsageName[]) {}

  static of(usages: readonly KeyUsageName[]): KeyUsage {
    if (usages.length === 0) throw new InvalidPkiInputError('KeyUsage needs at least one usage', {});
    return new KeyUsage(KEY_USAGE_BITS.filter((u) => usages.includes(u)));
  }

  /** Strict DER named bit list: unused bits zero, no trailing zero bit (X.690 11.2). */
  static fromDer(extnValue: Uint8Array): KeyUsage {
    const what = 'KeyUsage';
    const content = contentBytes(extnValue, readSingle(extnValue, TAG.BIT_STRING, what));
    const unused = content[0] ?? 8;
    const last = content[content.length - 1]!;
    if (unused > 7 || (content.length === 1 && unused !== 0) || (content.length > 1 && ((last >> unused) & 1) !== 1)) {
      throw new MalformedPkiObjectError(`${what}: not a DER named bit list`, { what });
    }
    const bytes = content.subarray(1);
    return new KeyUsage(KEY_USAGE_BITS.filter((_, i) => ((bytes[i >> 3] ?? 0) >> (7 - (i & 7))) & 1));
  }

  /** The same through asn1js: the reference `fromDer` is tested against. */
  static fromDerWithPkijs(extnValue: Uint8Array): KeyUsage {
    const bits = parseAsn1(extnValue, 'KeyUsage');
    if (!(bits instanceof asn1js.BitString)) throw new MalformedPkiObjectError('KeyUsage: BIT STRING expected', {});
    const bytes = bits.valueBlock.valueHexView;
    const set = KEY_USAGE_BITS.filter((_, i) => ((bytes[i >> 3] ?? 0) >> (7 - (i & 7))) & 1);
    return new KeyUsage(set);
  }

  has(usage: KeyUsageName): boolean {
    return this.usages.includes(usage);
  }

  /** DER named bit list: trailing zero bits dropped, unused-bit count set accordingly (X.690 11.2.2). */
  toDer(): Uint8Array {
    const indices = this.usages.map((u) => KEY_USAGE_BITS.indexOf(u));
    const highest = Math.max(...indices);
    const bytes = new Uint8Array((highest >> 3) + 1);
    for (const i of indices) bytes[i >> 3]! |= 0x80 >> (i & 7);
    const unusedBits = 7 - (highest & 7);
    return new Uint8Array(new asn1js.BitString({ valueHex: toArrayBuffer(bytes), unusedBits }).toBER(false));
  }

  toExtension() {
    return toPkijsExtension(this);
  }
}
