import { createPublicKey, verify } from 'node:crypto';
import { canonicalJson } from '@tunnelkey/contracts';

/**
 * The enrolment key vouches for a device's two encryption public keys, as it vouches for its TLS
 * keys: an ECDSA P-256 signature (IEEE P1363 r||s, base64, as @tunnelkey/device-protocol's
 * signBytes makes) over label || canonicalJson(statement). The device sends it in its identity
 * response; the registry passes it on in IdentityVerified; the OTA service checks it against the
 * enrolment key before it ever wraps a content key for these keys.
 */
export const encryptionKeysAttestationLabel = 'tunnelkey/firmware-encryption-keys-attestation/v1';

export interface EncryptionKeysStatement {
  deviceId: string;
  /** SPKI DER, base64. */
  ecdhPublicKey: string;
  /** ML-KEM-768 encapsulation key, base64. */
  mlKemPublicKey: string;
  /** The owner epoch the keys are derived under (absent: 0). */
  ownerEpoch?: number;
}

/**
 * The bytes the enrolment key signs. From owner epoch 1 on the epoch is part of them, so keys
 * attested for one owner cannot be passed off as another's; epoch 0 signs the bytes it always did.
 */
export function encryptionKeysAttestationBytes(statement: EncryptionKeysStatement): Uint8Array {
  const { deviceId, ecdhPublicKey, mlKemPublicKey, ownerEpoch = 0 } = statement;
  const signed =
    ownerEpoch === 0
      ? { deviceId, ecdhPublicKey, mlKemPublicKey }
      : { deviceId, ecdhPublicKey, mlKemPublicKey, ownerEpoch };
  return new TextEncoder().encode(`${encryptionKeysAttestationLabel}\n${canonicalJson(signed)}`);
}

/** True when `signature` (P1363, base64) is the enrolment key's over the statement. Never throws. */
export function encryptionKeysAttestationValid(
  statement: EncryptionKeysStatement,
  signature: string,
  enrolmentPublicKeySpki: Uint8Array,
): boolean {
  try {
    const key = createPublicKey({ key: Buffer.from(enrolmentPublicKeySpki), format: 'der', type: 'spki' });
    return verify(
      'sha256',
      encryptionKeysAttestationBytes(statement),
      { key, dsaEncoding: 'ieee-p1363' },
      Buffer.from(signature, 'base64'),
    );
  } catch {
    return false;
  }
}
