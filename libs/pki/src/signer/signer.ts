/**
 * The Signer port. Certificates, CRLs and CSRs are assembled as TBS bytes and signed through it,
 * never by handing pkijs a private key, so a CA key can move to a KMS/HSM (which sign a digest
 * and return DER, e.g. AWS KMS ECDSA_SHA_256) without touching the builders.
 */
import type { SignatureAlgorithmName } from './algorithms.js';

export interface Signer {
  /** Which algorithm `sign` applies; also selects the AlgorithmIdentifier written next to the signature. */
  readonly algorithm: SignatureAlgorithmName;
  /** DER SubjectPublicKeyInfo of the signing key (what a KMS GetPublicKey returns). */
  readonly publicKeySpki: Uint8Array;
  /**
   * Signs `data` (the TBS bytes; hashing is the signer's job) and returns the signature as it goes
   * into the X.509 BIT STRING: for ECDSA, the DER ECDSA-Sig-Value, not raw r || s.
   */
  sign(data: Uint8Array): Promise<Uint8Array>;
}
