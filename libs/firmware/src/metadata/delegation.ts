import { KeyObject, sign } from 'node:crypto';
import type { webcrypto } from 'node:crypto';
import { FirmwareFormatError, FirmwareKeyError } from '../errors.js';
import { firmwarePublicKey, tufKeyOf, type FirmwarePublicKey } from '../keys/signing-keys.js';
import {
  FIRMWARE_ROLE,
  TUF_SPEC_VERSION,
  signingBytes,
  tufExpires,
  type TufMetadata,
  type TufTargetsSigned,
} from './tuf-metadata.js';

type CryptoKey = webcrypto.CryptoKey;

/** Which firmware-signing keys the platform vouches for, from which delegation version on. */
export interface FirmwareDelegation {
  /** Strictly increasing: a rotation is a new delegation with a higher version. */
  version: number;
  expires: Date | string;
  ecdsa: FirmwarePublicKey;
  mlDsa: FirmwarePublicKey;
}

/** The platform's downlink key (as @tunnelkey/device-protocol loads it): the private half may be non-extractable. */
export interface PlatformSigningKey {
  privateKey: CryptoKey | KeyObject;
  /** SPKI DER: what devices pin. */
  publicKeySpki: Uint8Array;
}

/** The unsigned delegation: top-level targets, no targets, one delegated role `firmware` with threshold 2. */
export function delegationTargets(delegation: FirmwareDelegation): TufTargetsSigned {
  if (!Number.isSafeInteger(delegation.version) || delegation.version < 1)
    throw new FirmwareFormatError('delegation version must be a positive integer', { field: 'version' });
  if (delegation.ecdsa.scheme !== 'ecdsa-sha2-nistp256' || delegation.mlDsa.scheme !== 'ml-dsa-65')
    throw new FirmwareKeyError('a delegation names one ECDSA P-256 key and one ML-DSA-65 key');
  const keys = [delegation.ecdsa, delegation.mlDsa];
  return {
    _type: 'targets',
    spec_version: TUF_SPEC_VERSION,
    version: delegation.version,
    expires: tufExpires(delegation.expires),
    targets: {},
    delegations: {
      keys: Object.fromEntries(keys.map((k) => [k.keyid, tufKeyOf(k.scheme, k.publicKey)])),
      roles: [{ name: FIRMWARE_ROLE, keyids: keys.map((k) => k.keyid), threshold: 2, terminating: true, paths: ['*'] }],
    },
  };
}

/** The platform key's TUF key id (what a delegation's signature names). */
export function platformKeyId(publicKeySpki: Uint8Array): string {
  return firmwarePublicKey('ecdsa-sha2-nistp256', publicKeySpki).keyid;
}

/** Signs a delegation with the platform key (ECDSA P-256, DER, as TUF's ecdsa-sha2-nistp256). */
export async function signDelegation(
  delegation: FirmwareDelegation,
  platform: PlatformSigningKey,
): Promise<TufMetadata> {
  const signed = delegationTargets(delegation);
  const key = platform.privateKey instanceof KeyObject ? platform.privateKey : KeyObject.from(platform.privateKey);
  const sig = sign('sha256', signingBytes(signed), { key, dsaEncoding: 'der' });
  return { signatures: [{ keyid: platformKeyId(platform.publicKeySpki), sig: sig.toString('hex') }], signed };
}
