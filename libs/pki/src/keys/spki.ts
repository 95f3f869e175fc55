/** SubjectPublicKeyInfo inspection: which curve, the key bits, equality with an enrolled key, import. */
import { createHash } from 'node:crypto';
import { subtle, type CryptoKey } from '../engine.js';
import { bytesEqual, toArrayBuffer } from '../encoding/bytes.js';
import { contentBytes, decodeOid, DerReader, readSingle, TAG } from '../encoding/der-reader.js';
import { derFrom } from '../encoding/pem.js';
import { MalformedPkiObjectError, UnsupportedAlgorithmError } from '../errors.js';
import { OID } from '../oids.js';

export interface EcPublicKeyInfo {
  namedCurve: 'P-256' | 'P-384';
  /** The BIT STRING contents: the uncompressed point 04 || X || Y. */
  publicKey: Uint8Array;
  /** The whole SPKI, DER. */
  spki: Uint8Array;
}

const CURVES: Record<string, { name: 'P-256' | 'P-384'; pointBytes: number }> = {
  [OID.p256]: { name: 'P-256', pointBytes: 65 },
  [OID.p384]: { name: 'P-384', pointBytes: 97 },
};

// The DER of an uncompressed-point SPKI is fixed up to the point: matching the prefix is an exact
// parse and skips asn1js, which dominates issuance time on small machines.
const FIXED_PREFIXES: Array<{ prefix: Uint8Array; name: 'P-256' | 'P-384'; pointBytes: number }> = [
  {
    prefix: new Uint8Array(Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex')),
    name: 'P-256',
    pointBytes: 65,
  },
  {
    prefix: new Uint8Array(Buffer.from('3076301006072a8648ce3d020106052b81040022036200', 'hex')),
    name: 'P-384',
    pointBytes: 97,
  },
];

const fastPath = (spki: Uint8Array): EcPublicKeyInfo | undefined => {
  for (const f of FIXED_PREFIXES) {
    if (spki.length === f.prefix.length + f.pointBytes && bytesEqual(spki.subarray(0, f.prefix.length), f.prefix)) {
      const point = spki.slice(f.prefix.length);
      if (point[0] !== 0x04) return undefined;
      return { namedCurve: f.name, publicKey: point, spki: spki.slice() };
    }
  }
  return undefined;
};

/** Parses an EC SPKI (DER or PEM) and refuses anything that is not an uncompressed P-256/P-384 point. */
export const parseEcSpki = (input: Uint8Array | string): EcPublicKeyInfo => {
  const spki = derFrom(input, 'PUBLIC KEY');
  const fast = fastPath(spki);
  if (fast) return fast;
  // Anything else is walked with the strict DER reader: a BER-ish SPKI must not be certified as-is.
  const what = 'SubjectPublicKeyInfo';
  const info = DerReader.inside(spki, readSingle(spki, TAG.SEQUENCE, what), what);
  const algorithm = DerReader.inside(spki, info.expect(TAG.SEQUENCE, 'algorithm'), 'AlgorithmIdentifier');
  const bits = contentBytes(spki, info.expect(TAG.BIT_STRING, 'subjectPublicKey'));
  info.end('subjectPublicKey');
  const algOid = decodeOid(contentBytes(spki, algorithm.expect(TAG.OID, 'algorithm')), what);
  const parameters = algorithm.done ? undefined : algorithm.next();
  algorithm.end('parameters');
  if (algOid !== OID.ecPublicKey)
    throw new UnsupportedAlgorithmError('public key is not an EC key', { algorithm: algOid });
  const curveOid = parameters?.tag === TAG.OID ? decodeOid(contentBytes(spki, parameters), what) : undefined;
  const curve = curveOid ? CURVES[curveOid] : undefined;
  if (!curve) throw new UnsupportedAlgorithmError('EC key on an unsupported curve', { curve: curveOid ?? 'none' });
  const point = bits.subarray(1);
  if (bits[0] !== 0 || point.length !== curve.pointBytes || point[0] !== 0x04) {
    throw new MalformedPkiObjectError('EC public key is not an uncompressed point of its curve', { curve: curve.name });
  }
  return { namedCurve: curve.name, publicKey: point.slice(), spki: spki.slice() };
};

/** True when two SPKIs carry the same key (compares decoded content, not incidental encoding). */
export const spkiEqual = (a: Uint8Array | string, b: Uint8Array | string): boolean => {
  const x = parseEcSpki(a);
  const y = parseEcSpki(b);
  return x.namedCurve === y.namedCurve && bytesEqual(x.publicKey, y.publicKey);
};

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING contents (what openssl computes too). */
export const keyIdentifier = (spki: Uint8Array): Uint8Array =>
  new Uint8Array(createHash('sha1').update(parseEcSpki(spki).publicKey).digest());

/** SHA-256 of the SPKI DER: the platform's digest of a device's enrolment key. */
export const spkiSha256 = (spki: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(spki).digest());

/** Imports an EC SPKI as a WebCrypto ECDSA verification key. */
export const importEcdsaPublicKey = async (spki: Uint8Array): Promise<CryptoKey> => {
  const info = parseEcSpki(spki);
  return subtle.importKey('spki', toArrayBuffer(spki), { name: 'ECDSA', namedCurve: info.namedCurve }, true, [
    'verify',
  ]);
};
