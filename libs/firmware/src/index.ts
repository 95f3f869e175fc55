/**
 * Public entry of @tunnelkey/firmware: signed and encrypted firmware for OTA updates, used by the
 * OTA service (sign, encrypt, wrap) and by devices (decide, unwrap, decrypt, check).
 *
 * Signing (TUF 1.0.31 JSON, readable by @tufjs/models):
 * - `generateFirmwareSigningKeys()` / `firmwareSigningKeysFromSecrets({ ecdsaPkcs8, mlDsaSeed })`:
 *   the firmware-signing pair (ECDSA P-256 + ML-DSA-65); the secrets are for the caller's KEK.
 * - `signDelegation({ version, expires, ecdsa, mlDsa }, platformKey)`: the platform key devices pin
 *   names the current signing keys (TUF top-level targets delegating role `firmware`, threshold 2).
 *   Rotation = a new delegation with a higher version.
 * - `signRelease({ firmwareId, product, version, imageSha256, length, metadataVersion, expires }, keys)`:
 *   targets metadata for one image, signed by both keys. `signingBytes(signed)` = what is signed.
 *
 * Encryption:
 * - `generateContentKey()` once per rollout; `encryptImage(image, sha256, key, chunkSize)` gives the
 *   `aes-256-gcm-chunked/v1` header and the object to store; `decryptChunk` opens chunk by chunk.
 * - `wrapContentKey(key, { ecdhPublicKey, mlKemPublicKey }, { deviceId, rolloutId })`: hybrid
 *   ECDH P-256 + ML-KEM-768 wrap (1,202 bytes); `unwrapContentKey` on the device.
 * - `encryptionKeysAttestationBytes` / `encryptionKeysAttestationValid`: the enrolment key vouching
 *   for a device's two encryption public keys.
 *
 * Device decision: `decideUpdate(state, { delegation, metadata }, now)` -> accepted (release +
 * delegation to remember) or refused with a reason; `checkDownloadedImage(release, image)`.
 */
export * from './errors.js';
export {
  ecdsaP256Signer,
  firmwarePublicKey,
  firmwarePublicKeyFromTuf,
  firmwareSigningKeysFromSecrets,
  generateFirmwareSigningKeys,
  mlDsa65PublicKeyBytes,
  mlDsa65Signer,
  mlDsa65SignatureBytes,
  p256KeyObject,
  signatureValid,
  tufKeyId,
  tufKeyOf,
} from './keys/signing-keys.js';
export type {
  FirmwarePublicKey,
  FirmwareSigner,
  FirmwareSigningKeys,
  FirmwareSigningSecrets,
  SignatureScheme,
  TufKey,
} from './keys/signing-keys.js';
export {
  encryptionKeysAttestationBytes,
  encryptionKeysAttestationLabel,
  encryptionKeysAttestationValid,
} from './keys/encryption-keys-attestation.js';
export type { EncryptionKeysStatement } from './keys/encryption-keys-attestation.js';
export {
  FIRMWARE_ROLE,
  TUF_SPEC_VERSION,
  metadataToJson,
  parseTufMetadata,
  signingBytes,
  tufExpires,
} from './metadata/tuf-metadata.js';
export type {
  FirmwareTargetCustom,
  TufDelegatedRole,
  TufMetadata,
  TufSignature,
  TufTargetFile,
  TufTargetsSigned,
} from './metadata/tuf-metadata.js';
export { releaseTargets, signRelease, signTargets, targetPathOf } from './metadata/release-metadata.js';
export type { FirmwareRelease } from './metadata/release-metadata.js';
export { delegationTargets, platformKeyId, signDelegation } from './metadata/delegation.js';
export type { FirmwareDelegation, PlatformSigningKey } from './metadata/delegation.js';
export { checkDownloadedImage, decideUpdate } from './decision/decide-update.js';
export type {
  AcceptedDelegation,
  DecideUpdateOptions,
  DeviceUpdateState,
  SignatureCheck,
  UpdateAccepted,
  UpdateDecision,
  UpdateOfferDocuments,
  UpdateRefusalReason,
  UpdateRefused,
  VerifiedRelease,
} from './decision/decide-update.js';
export { compareFirmwareVersions } from './decision/firmware-version.js';
export {
  CHUNK_ENCRYPTION_SCHEME,
  CHUNK_TAG_BYTES,
  CONTENT_KEY_BYTES,
  DEFAULT_CHUNK_SIZE,
  checkHeader,
  chunkPlaintextLength,
  decryptChunk,
  encryptChunk,
  encryptImage,
  encryptedChunkRange,
  encryptedLength,
  encryptionHeader,
  generateContentKey,
} from './encryption/image-encryption.js';
export type { ChunkedEncryptionHeader, EncryptedImage } from './encryption/image-encryption.js';
export {
  HYBRID_KEM_SCHEME,
  mlKem768PublicKeyBytes,
  unwrapContentKey,
  wrapContentKey,
  wrappedContentKeyBytes,
} from './encryption/hybrid-kem.js';
export type {
  DeviceDecryptionKeys,
  DeviceEncryptionKeys,
  MlKemDecapsulator,
  WrapContext,
} from './encryption/hybrid-kem.js';
