/**
 * @tunnelkey/pki — CSRs, certificates and CRLs for the tunnelkey CA (pkijs over node's native
 * WebCrypto), a Signer port so CA keys can live in a KMS/HSM, and CA key protection at rest.
 */

// Errors
export {
  PkiError,
  InvalidPkiInputError,
  MalformedPkiObjectError,
  UnsupportedAlgorithmError,
  SignatureVerificationError,
  ChainVerificationError,
  SignerError,
  KekError,
  KeyUnwrapError,
  isPkiError,
  isChainVerificationError,
  isSignatureVerificationError,
  isKeyUnwrapError,
  isKekError,
  type PkiErrorContext,
  type ChainFailureReason,
  type KeyUnwrapFailure,
} from './errors.js';

// Encoding
export { derToPem, pemToDer, pemBlocks, derFrom, type PemLabel } from './encoding/pem.js';
export { toHex, fromHex } from './encoding/bytes.js';

// Signing
export type { Signer } from './signer/signer.js';
export { SIGNATURE_ALGORITHMS, type SignatureAlgorithmName, type SignatureAlgorithm } from './signer/algorithms.js';
export { WebCryptoSigner, generateP256KeyPair, exportSpki } from './signer/webcrypto-signer.js';
export { rawEcdsaToDer, derEcdsaToRaw } from './signer/ecdsa-signature.js';
export {
  Pkcs11Token,
  Pkcs11Signer,
  loadPkcs11Options,
  DEFAULT_PKCS11_MODULE,
  type Pkcs11TokenOptions,
  type Pkcs11Sources,
} from './signer/pkcs11-signer.js';
export { verifySignature, type SignatureCheck } from './signer/verify-signature.js';

// Keys
export {
  parseEcSpki,
  spkiEqual,
  spkiSha256,
  keyIdentifier,
  importEcdsaPublicKey,
  type EcPublicKeyInfo,
} from './keys/spki.js';
export { Kek, loadKek, decodeKekText, KEK_BYTES, type KekSources } from './keys/kek.js';
export { deriveP256SignerUnderKek } from './keys/kek-derived-key.js';
export {
  wrapCaPrivateKey,
  unwrapCaPrivateKey,
  unwrapCaSigner,
  generateWrappedCaKey,
  type WrapRequest,
  type UnwrappedCaKey,
} from './keys/ca-key-wrap.js';

// Names, serials, extensions
export { type DistinguishedName } from './name.js';
export { randomSerial, serialToHex, type RandomSource } from './serial.js';
export { SubjectAltName, deviceUri, deviceIdFromUri, assertDeviceId } from './extensions/subject-alt-name.js';
export { ExtendedKeyUsage, type KeyPurpose } from './extensions/extended-key-usage.js';
export { KeyUsage, KEY_USAGE_BITS, type KeyUsageName } from './extensions/key-usage.js';
export { BasicConstraints } from './extensions/basic-constraints.js';
export { SubjectKeyIdentifier, AuthorityKeyIdentifier } from './extensions/key-identifiers.js';
export { CrlDistributionPoints } from './extensions/crl-distribution-points.js';
export type { X509Extension } from './extensions/extension.js';

// Certificates
export { type IssuedCertificate } from './certificate/certificate-template.js';
export { loadIssuer, type CertificateIssuer } from './certificate/issuer.js';
export { buildRootCaCertificate, type RootCaRequest } from './certificate/root-ca.js';
export { buildIssuingCaCertificate, type IssuingCaRequest } from './certificate/issuing-ca.js';
export {
  buildDeviceCertificate,
  deviceTbsCertificate,
  type DeviceCertificateRequest,
} from './certificate/device-certificate.js';
export {
  parseCertificate,
  summarizeCertificate,
  MAX_CERTIFICATE_BYTES,
  type ParsedCertificate,
  type CertificateSummary,
} from './certificate/parse-certificate.js';
export {
  verifyChain,
  verifyCaChain,
  type ChainVerificationRequest,
  type CaChainVerificationRequest,
  type VerifiedChain,
} from './certificate/verify-chain.js';

// CSRs
export { createCsr, type CsrRequest, type CreatedCsr } from './csr/create-csr.js';
export { parseCsr, verifyCsrSignature, parseAndVerifyCsr, MAX_CSR_BYTES, type ParsedCsr } from './csr/parse-csr.js';

// CRLs
export {
  REVOCATION_REASON_CODES,
  revocationReasonCode,
  revocationReasonFromCode,
  isRevocationReason,
  type RevocationReason,
} from './crl/revocation-reason.js';
export { buildCrl, crlTbs, type CrlRequest, type IssuedCrl, type RevokedCertificateEntry } from './crl/build-crl.js';
export {
  parseCrl,
  verifyCrl,
  isRevoked,
  findRevocation,
  MAX_CRL_BYTES,
  type ParsedCrl,
  type CrlEntry,
} from './crl/parse-crl.js';
