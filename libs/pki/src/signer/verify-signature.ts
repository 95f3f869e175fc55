/** Verifies an X.509-style signature (DER ECDSA-Sig-Value) over bytes with a key given as SPKI. */
import { KeyObject, verify } from 'node:crypto';
import { subtle } from '../engine.js';
import { toHex } from '../encoding/bytes.js';
import { MalformedPkiObjectError, UnsupportedAlgorithmError } from '../errors.js';
import { parseEcSpki } from '../keys/spki.js';
import { signatureAlgorithmByOid } from './algorithms.js';
import { derEcdsaToRaw } from './ecdsa-signature.js';

export interface SignatureCheck {
  /** SubjectPublicKeyInfo DER of the supposed signer. */
  spki: Uint8Array;
  /** The signatureAlgorithm OID written next to the signature. */
  algorithmOid: string;
  data: Uint8Array;
  /** BIT STRING contents: DER ECDSA-Sig-Value. */
  signature: Uint8Array;
}

/** true / false for a well-formed signature; typed errors for unsupported algorithms or key/algorithm mismatch. */
export const verifySignature = async (check: SignatureCheck): Promise<boolean> => {
  const alg = signatureAlgorithmByOid(check.algorithmOid);
  const key = parseEcSpki(check.spki);
  if (key.namedCurve !== alg.namedCurve) {
    // RFC 5480 allows mixes, but our profile pairs P-256 with SHA-256 and P-384 with SHA-384.
    throw new UnsupportedAlgorithmError('signature algorithm does not match the key curve', {
      algorithm: alg.name,
      curve: key.namedCurve,
    });
  }
  let raw: Uint8Array;
  try {
    raw = derEcdsaToRaw(check.signature, alg.fieldBytes);
  } catch (e) {
    if (e instanceof MalformedPkiObjectError) return false; // a garbled signature simply does not verify
    throw e;
  }
  // node's one-shot verify on the imported key: half the CPU of a WebCrypto verify on Node 20.
  const publicKey = await verificationKey(alg.namedCurve, key.publicKey);
  return verify(alg.nodeHash, check.data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, raw);
};

// Imported verification keys, most recently used last. CA keys (the issuing CA and the root, met
// on every chain check) stay; one-off device keys pass through and fall out.
const MAX_CACHED_KEYS = 64;
const keyCache = new Map<string, KeyObject>();

/** The key for an uncompressed point, imported once while it keeps being used. */
const verificationKey = async (namedCurve: 'P-256' | 'P-384', point: Uint8Array): Promise<KeyObject> => {
  const id = `${namedCurve}:${toHex(point)}`;
  const cached = keyCache.get(id);
  if (cached) {
    keyCache.delete(id);
    keyCache.set(id, cached);
    return cached;
  }
  let key: KeyObject;
  try {
    // 'raw' (the point) imports about twice as fast as 'spki' on Node 20; the SPKI was checked by the caller.
    key = KeyObject.from(await subtle.importKey('raw', point, { name: 'ECDSA', namedCurve }, false, ['verify']));
  } catch (e) {
    throw new MalformedPkiObjectError('public key is not a point on its curve', { curve: namedCurve }, { cause: e });
  }
  if (keyCache.size >= MAX_CACHED_KEYS) keyCache.delete(keyCache.keys().next().value!);
  keyCache.set(id, key);
  return key;
};
