/** The signature algorithms we sign and verify with, as one table: name -> OID, hash, curve, sizes. */
import { UnsupportedAlgorithmError } from '../errors.js';
import { OID } from '../oids.js';

export type SignatureAlgorithmName = 'ECDSA-P256-SHA256' | 'ECDSA-P384-SHA384';

export interface SignatureAlgorithm {
  readonly name: SignatureAlgorithmName;
  /** AlgorithmIdentifier OID; parameters are absent for ECDSA (RFC 5758 3.2). */
  readonly oid: string;
  readonly hash: 'SHA-256' | 'SHA-384';
  /** The same hash as node's one-shot crypto.sign/verify name it. */
  readonly nodeHash: 'sha256' | 'sha384';
  readonly namedCurve: 'P-256' | 'P-384';
  readonly curveOid: string;
  /** Bytes of r (and of s) in the raw IEEE P1363 form WebCrypto produces. */
  readonly fieldBytes: number;
}

export const SIGNATURE_ALGORITHMS: Readonly<Record<SignatureAlgorithmName, SignatureAlgorithm>> = {
  'ECDSA-P256-SHA256': {
    name: 'ECDSA-P256-SHA256',
    oid: OID.ecdsaWithSha256,
    hash: 'SHA-256',
    nodeHash: 'sha256',
    namedCurve: 'P-256',
    curveOid: OID.p256,
    fieldBytes: 32,
  },
  'ECDSA-P384-SHA384': {
    name: 'ECDSA-P384-SHA384',
    oid: OID.ecdsaWithSha384,
    hash: 'SHA-384',
    nodeHash: 'sha384',
    namedCurve: 'P-384',
    curveOid: OID.p384,
    fieldBytes: 48,
  },
};

export const signatureAlgorithm = (name: SignatureAlgorithmName): SignatureAlgorithm => SIGNATURE_ALGORITHMS[name];

/** Signature AlgorithmIdentifier OID -> our descriptor; anything else is refused. */
export const signatureAlgorithmByOid = (oid: string): SignatureAlgorithm => {
  const found = Object.values(SIGNATURE_ALGORITHMS).find((a) => a.oid === oid);
  if (!found) throw new UnsupportedAlgorithmError('unsupported signature algorithm', { oid });
  return found;
};
