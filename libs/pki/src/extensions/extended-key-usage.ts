import { pkijs } from '../engine.js';
import { contentBytes, decodeOid, DerReader, readSingle, TAG } from '../encoding/der-reader.js';
import { decodeWith } from '../encoding/der.js';
import { InvalidPkiInputError, MalformedPkiObjectError } from '../errors.js';
import { OID } from '../oids.js';
import { encodeValue, toPkijsExtension, type X509Extension } from './extension.js';

export type KeyPurpose = 'clientAuth' | 'serverAuth';

const PURPOSE_OID: Record<KeyPurpose, string> = { clientAuth: OID.clientAuth, serverAuth: OID.serverAuth };
const PURPOSE_BY_OID = new Map(Object.entries(PURPOSE_OID).map(([k, v]) => [v, k as KeyPurpose]));

/** ExtendedKeyUsage (RFC 5280 4.2.1.12). Non-critical, like the CA/Browser and IoT hub profiles. */
export class ExtendedKeyUsage implements X509Extension {
  readonly oid = OID.extKeyUsage;
  readonly critical = false;

  private constructor(readonly purposeOids: readonly string[]) {}

  static of(purposes: readonly KeyPurpose[]): ExtendedKeyUsage {
    if (purposes.length === 0) throw new InvalidPkiInputError('ExtendedKeyUsage needs at least one purpose', {});
    return new ExtendedKeyUsage([...new Set(purposes)].map((p) => PURPOSE_OID[p]));
  }

  /** Strict DER: SEQUENCE SIZE (1..MAX) OF KeyPurposeId. */
  static fromDer(extnValue: Uint8Array): ExtendedKeyUsage {
    const what = 'ExtendedKeyUsage';
    const list = DerReader.inside(extnValue, readSingle(extnValue, TAG.SEQUENCE, what), what);
    if (list.done) throw new MalformedPkiObjectError(`${what}: no purpose`, { what });
    const oids: string[] = [];
    while (!list.done) oids.push(decodeOid(contentBytes(extnValue, list.expect(TAG.OID, 'KeyPurposeId')), what));
    return new ExtendedKeyUsage(oids);
  }

  /** The same through pkijs: the reference `fromDer` is tested against. */
  static fromDerWithPkijs(extnValue: Uint8Array): ExtendedKeyUsage {
    const eku = decodeWith('ExtendedKeyUsage', () => pkijs.ExtKeyUsage.fromBER(extnValue));
    return new ExtendedKeyUsage(eku.keyPurposes);
  }

  /** Known purposes by name; unknown OIDs are listed as OIDs so nothing is silently dropped. */
  get purposes(): string[] {
    return this.purposeOids.map((oid) => PURPOSE_BY_OID.get(oid) ?? oid);
  }

  has(purpose: KeyPurpose): boolean {
    return this.purposeOids.includes(PURPOSE_OID[purpose]);
  }

  toDer(): Uint8Array {
    return encodeValue(new pkijs.ExtKeyUsage({ keyPurposes: [...this.purposeOids] }));
  }

  toExtension() {
    return toPkijsExtension(this);
  }
}
