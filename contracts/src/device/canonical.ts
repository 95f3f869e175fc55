import { CanonicalEncodingError } from '../errors.js';

/**
 * The one definition of the bytes a device-protocol signature covers, used by devices and the
 * platform alike. JSON canonicalised as in RFC 8785 (JCS) for the values our contracts allow:
 * object keys sorted by UTF-16 code units, no whitespace, ECMAScript number and string
 * serialisation. Properties whose value is `undefined` are left out, exactly as they vanish on the
 * wire, so what was signed is what arrives. Everything without one meaning is refused: non-finite
 * numbers, lone surrogates, non-plain objects, `undefined` in arrays.
 */

const maxDepth = 32;
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function encode(value: unknown, path: string, depth: number): string {
  if (depth > maxDepth) throw new CanonicalEncodingError('nested too deeply', path);
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalEncodingError('non-finite number', path);
      return JSON.stringify(value);
    case 'string':
      if (loneSurrogate.test(value)) throw new CanonicalEncodingError('lone surrogate in string', path);
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) {
        return `[${value
          .map((item, i) => {
            if (item === undefined) throw new CanonicalEncodingError('undefined array item', `${path}/${i}`);
            return encode(item, `${path}/${i}`, depth + 1);
          })
          .join(',')}]`;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) throw new CanonicalEncodingError('not a plain object', path);
      const record = value as Record<string, unknown>;
      const members = Object.keys(record)
        .filter((key) => record[key] !== undefined)
        .sort()
        .map((key) => {
          if (loneSurrogate.test(key)) throw new CanonicalEncodingError('lone surrogate in key', path);
          return `${JSON.stringify(key)}:${encode(record[key], `${path}/${key}`, depth + 1)}`;
        });
      return `{${members.join(',')}}`;
    }
    default:
      throw new CanonicalEncodingError(`${typeof value} has no JSON form`, path);
  }
}

/** Canonical JSON text of a value (RFC 8785 for the values contracts allow). */
export function canonicalJson(value: unknown): string {
  return encode(value, '', 0);
}

/**
 * Domain separation: the same enrolment key signs messages and TLS-key attestations, so each
 * kind of signed bytes starts with its own label and one can never be replayed as the other.
 */
export const deviceMessageSigningLabel = 'tunnelkey/device-message/v1';
export const keyAttestationSigningLabel = 'tunnelkey/tls-key-attestation/v1';
export const manufacturerAttestationSigningLabel = 'tunnelkey/manufacturer-attestation/v1';
export const custodySigningLabel = 'tunnelkey/custody-record/v1';

const utf8 = new TextEncoder();

function labelled(label: string, value: unknown): Uint8Array {
  return utf8.encode(`${label}\n${canonicalJson(value)}`);
}

/**
 * The bytes a device-protocol envelope's `signature` covers: the label, a newline, and the
 * canonical JSON of the envelope without its `signature`. ECDSA P-256 with SHA-256 over these.
 */
export function canonicalBytes(envelopeWithoutSignature: object): Uint8Array {
  if (Object.hasOwn(envelopeWithoutSignature, 'signature')) {
    throw new CanonicalEncodingError('the signature is not part of what is signed; remove it first', '/signature');
  }
  return labelled(deviceMessageSigningLabel, envelopeWithoutSignature);
}

/** The bytes a verifier checks a received envelope's signature against. */
export function signedBytesOf(envelope: { signature: string }): Uint8Array {
  const { signature: _signature, ...unsigned } = envelope;
  return canonicalBytes(unsigned);
}

/** What a device's enrolment key signs to vouch for one of its TLS keys (carried in a CSR message). */
export interface KeyAttestationStatement {
  deviceId: string;
  /** `tls-<n>`. */
  keyId: string;
  /** SubjectPublicKeyInfo DER, base64, of the attested key. */
  publicKey: string;
}

export function keyAttestationBytes(statement: KeyAttestationStatement): Uint8Array {
  const { deviceId, keyId, publicKey } = statement;
  return labelled(keyAttestationSigningLabel, { deviceId, keyId, publicKey });
}

/**
 * What a manufacturer key signs at the factory to vouch for a device's enrolment key (carried in an
 * enrolment-key-report). The device id is the key's digest, so the key names the device.
 */
export function manufacturerAttestationBytes(statement: { enrolmentPublicKey: string }): Uint8Array {
  return labelled(manufacturerAttestationSigningLabel, { enrolmentPublicKey: statement.enrolmentPublicKey });
}

/** Who signs a custody statement: the old owner, the new owner, the device itself. */
export type CustodyRole = 'authorisation' | 'acceptance' | 'acknowledgement';

/**
 * What one device's ownership transfer says; the old owner authorises it, the new owner accepts it
 * and the device acknowledges it, each signing these same facts under its own role (so none of the
 * three signatures can stand in for another, nor for any other kind of signed bytes).
 */
export interface CustodyStatement {
  transferId: string;
  deviceId: string;
  /** The device's enrolment key (its identity): the one that signs the acknowledgement. */
  enrolmentKeyDigest: string;
  fromOwnerId: string;
  toOwnerId: string;
  /** The new owner's batch the device joins. */
  toBatchId: string;
  /** The owner epoch the device moves to (one past its current one). */
  ownerEpoch: number;
}

export function custodyStatementBytes(role: CustodyRole, statement: CustodyStatement): Uint8Array {
  const { transferId, deviceId, enrolmentKeyDigest, fromOwnerId, toOwnerId, toBatchId, ownerEpoch } = statement;
  return labelled(custodySigningLabel, {
    role,
    transferId,
    deviceId,
    enrolmentKeyDigest,
    fromOwnerId,
    toOwnerId,
    toBatchId,
    ownerEpoch,
  });
}
