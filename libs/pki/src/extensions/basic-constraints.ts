import { pkijs } from '../engine.js';
import {
  contentBytes,
  decodeBoolean,
  decodeSmallUnsigned,
  DerReader,
  readSingle,
  TAG,
} from '../encoding/der-reader.js';
import { decodeWith } from '../encoding/der.js';
import { InvalidPkiInputError, MalformedPkiObjectError } from '../errors.js';
import { OID } from '../oids.js';
import { encodeValue, toPkijsExtension, type X509Extension } from './extension.js';

/** BasicConstraints (RFC 5280 4.2.1.9), critical. Leaves carry `{ ca: false }` explicitly so nobody guesses. */
export class BasicConstraints implements X509Extension {
  readonly oid = OID.basicConstraints;
  readonly critical = true;

  private constructor(
    readonly ca: boolean,
    readonly pathLength: number | undefined,
  ) {}

  static of(args: { ca: boolean; pathLength?: number }): BasicConstraints {
    if (args.pathLength !== undefined) {
      if (!args.ca) throw new InvalidPkiInputError('pathLength is only meaningful for a CA', {});
      if (!Number.isInteger(args.pathLength) || args.pathLength < 0 || args.pathLength > 16) {
        throw new InvalidPkiInputError('pathLength must be an integer 0..16', { pathLength: args.pathLength });
      }
    }
    return new BasicConstraints(args.ca, args.pathLength);
  }

  /** Strict DER: SEQUENCE { cA BOOLEAN DEFAULT FALSE (so never an encoded FALSE), pathLen INTEGER (0..MAX) OPTIONAL }. */
  static fromDer(extnValue: Uint8Array): BasicConstraints {
    const what = 'BasicConstraints';
    const seq = DerReader.inside(extnValue, readSingle(extnValue, TAG.SEQUENCE, what), what);
    const ca = seq.optional(TAG.BOOLEAN);
    if (ca && !decodeBoolean(contentBytes(extnValue, ca), what)) {
      throw new MalformedPkiObjectError(`${what}: cA FALSE is the default and must not be encoded`, { what });
    }
    const pathLength = seq.optional(TAG.INTEGER);
    seq.end('pathLenConstraint');
    return new BasicConstraints(
      ca !== undefined,
      pathLength && decodeSmallUnsigned(contentBytes(extnValue, pathLength), what),
    );
  }

  /** The same through pkijs: the reference `fromDer` is tested against. */
  static fromDerWithPkijs(extnValue: Uint8Array): BasicConstraints {
    const bc = decodeWith('BasicConstraints', () => pkijs.BasicConstraints.fromBER(extnValue));
    const pl = bc.pathLenConstraint;
    const pathLength = pl === undefined ? undefined : typeof pl === 'number' ? pl : pl.valueBlock.valueDec;
    return new BasicConstraints(bc.cA, pathLength);
  }

  toDer(): Uint8Array {
    return encodeValue(
      new pkijs.BasicConstraints(
        this.pathLength === undefined ? { cA: this.ca } : { cA: this.ca, pathLenConstraint: this.pathLength },
      ),
    );
  }

  toExtension() {
    return toPkijsExtension(this);
  }
}
