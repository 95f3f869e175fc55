/** AlgorithmIdentifier DER of our signature algorithms (ECDSA: OID only, no parameters, RFC 5758). */
import { TAG } from '../encoding/der-reader.js';
import { oidTlv, tlv } from '../encoding/der-writer.js';
import { signatureAlgorithm, type SignatureAlgorithmName } from './algorithms.js';

export const ALGORITHM_IDENTIFIER_DER: Readonly<Record<SignatureAlgorithmName, Uint8Array>> = {
  'ECDSA-P256-SHA256': tlv(TAG.SEQUENCE, oidTlv(signatureAlgorithm('ECDSA-P256-SHA256').oid)),
  'ECDSA-P384-SHA384': tlv(TAG.SEQUENCE, oidTlv(signatureAlgorithm('ECDSA-P384-SHA384').oid)),
};
