import * as asn1js from 'asn1js';
import { pkijs } from '../engine.js';
import { toArrayBuffer, toHex } from '../encoding/bytes.js';
import { checkInteger, contentBytes, DerReader, readSingle, TAG } from '../encoding/der-reader.js';
import { decodeWith, parseAsn1 } from '../encoding/der.js';
import { InvalidPkiInputError, MalformedPkiObjectError } from '../errors.js';
import { keyIdentifier } from '../keys/spki.js';
import { OID } from '../oids.js';
import { encodeValue, toPkijsExtension, type X509Extension } from './extension.js';
import { readGeneralNames } from './general-names.js';

const checkId = (id: Uint8Array) => {
  if (id.length === 0 || id.length > 64) throw new InvalidPkiInputError('key identifier must be 1..64 bytes', {});
};

/** SubjectKeyIdentifier (RFC 5280 4.2.1.2): SHA-1 of the public key bits unless given. */
export class SubjectKeyIdentifier implements X509Extension {
  readonly oid = OID.subjectKeyIdentifier;
  readonly critical = false;

  private constructor(readonly keyId: Uint8Array) {}

  static of(keyId: Uint8Array): SubjectKeyIdentifier {
    checkId(keyId);
    return new SubjectKeyIdentifier(keyId.slice());
  }

  static fromSpki(spki: Uint8Array): SubjectKeyIdentifier {
    return new SubjectKeyIdentifier(keyIdentifier(spki));
  }

  /** Strict DER: KeyIdentifier ::= OCTET STRING. */
  static fromDer(extnValue: Uint8Array): SubjectKeyIdentifier {
    return new SubjectKeyIdentifier(
      contentBytes(extnValue, readSingle(extnValue, TAG.OCTET_STRING, 'SubjectKeyIdentifier')).slice(),
    );
  }

  /** The same through asn1js: the reference `fromDer` is tested against. */
  static fromDerWithPkijs(extnValue: Uint8Array): SubjectKeyIdentifier {
    const os = parseAsn1(extnValue, 'SubjectKeyIdentifier');
    if (!(os instanceof asn1js.OctetString))
      throw new MalformedPkiObjectError('SubjectKeyIdentifier: OCTET STRING expected', {});
    return new SubjectKeyIdentifier(os.valueBlock.valueHexView.slice());
  }

  get hex(): string {
    return toHex(this.keyId);
  }

  toDer(): Uint8Array {
    return encodeValue(new asn1js.OctetString({ valueHex: toArrayBuffer(this.keyId) }));
  }

  toExtension() {
    return toPkijsExtension(this);
  }
}

/** AuthorityKeyIdentifier (RFC 5280 4.2.1.1) with the keyIdentifier form only: the issuer's SKI. */
export class AuthorityKeyIdentifier implements X509Extension {
  readonly oid = OID.authorityKeyIdentifier;
  readonly critical = false;

  private constructor(readonly keyId: Uint8Array | undefined) {}

  static of(keyId: Uint8Array): AuthorityKeyIdentifier {
    checkId(keyId);
    return new AuthorityKeyIdentifier(keyId.slice());
  }

  /**
   * Strict DER: SEQUENCE { keyIdentifier [0] OPTIONAL, authorityCertIssuer [1] GeneralNames OPTIONAL,
   * authorityCertSerialNumber [2] OPTIONAL }; all forms are checked, the key identifier is kept.
   */
  static fromDer(extnValue: Uint8Array): AuthorityKeyIdentifier {
    const what = 'AuthorityKeyIdentifier';
    const seq = DerReader.inside(extnValue, readSingle(extnValue, TAG.SEQUENCE, what), what);
    const keyId = seq.optional(0x80);
    const issuer = seq.optional(0xa1);
    if (issuer) readGeneralNames(extnValue, issuer, what);
    const serial = seq.optional(0x82);
    if (serial) checkInteger(contentBytes(extnValue, serial), what);
    seq.end('authorityCertSerialNumber');
    return new AuthorityKeyIdentifier(keyId && contentBytes(extnValue, keyId).slice());
  }

  /** The same through pkijs: the reference `fromDer` is tested against. */
  static fromDerWithPkijs(extnValue: Uint8Array): AuthorityKeyIdentifier {
    const aki = decodeWith('AuthorityKeyIdentifier', () => pkijs.AuthorityKeyIdentifier.fromBER(extnValue));
    return new AuthorityKeyIdentifier(aki.keyIdentifier?.valueBlock.valueHexView.slice());
  }

  get hex(): string | undefined {
    return this.keyId && toHex(this.keyId);
  }

  toDer(): Uint8Array {
    return encodeValue(
      new pkijs.AuthorityKeyIdentifier(
        this.keyId ? { keyIdentifier: new asn1js.OctetString({ valueHex: toArrayBuffer(this.keyId) }) } : {},
      ),
    );
  }

  toExtension() {
    return toPkijsExtension(this);
  }
}
