import { createHash } from 'node:crypto';
import { isFirmwareError } from '../errors.js';
import {
  firmwarePublicKey,
  firmwarePublicKeyFromTuf,
  signatureValid,
  type FirmwarePublicKey,
  type SignatureScheme,
} from '../keys/signing-keys.js';
import { platformKeyId } from '../metadata/delegation.js';
import { FIRMWARE_ROLE, parseTufMetadata, signingBytes, type TufMetadata } from '../metadata/tuf-metadata.js';
import { compareFirmwareVersions } from './firmware-version.js';

/** The delegation a device accepted last: public keys only, JSON-friendly (it lives in flash). */
export interface AcceptedDelegation {
  version: number;
  /** SPKI DER, base64. */
  ecdsaPublicKey: string;
  /** Raw ML-DSA-65 public key, base64. */
  mlDsaPublicKey: string;
}

/** What a device knows when an update is offered: all of it public, all of it kept in flash. */
export interface DeviceUpdateState {
  product: string;
  installedVersion: string;
  /** Version of the last release metadata the device accepted (0: none yet). */
  lastMetadataVersion: number;
  /** SPKI DER of the platform key pinned at the factory. */
  platformKey: Uint8Array;
  /** The last delegation accepted (absent: none yet, any version signed by the platform key will do). */
  delegation?: AcceptedDelegation;
}

/** What the platform sends with an offer: both documents as JSON text (or already parsed). */
export interface UpdateOfferDocuments {
  delegation: string | TufMetadata;
  metadata: string | TufMetadata;
}

/**
 * Why a device refuses an update. `detail` says which check: for `signature` the scheme that failed
 * (`platform`, `ecdsa-sha2-nistp256`, `ml-dsa-65`) or `key-not-delegated` (e.g. a rotated-out key);
 * for `stale`/`expired` which document (`delegation`, `metadata`).
 */
export type UpdateRefusalReason =
  | 'malformed'
  | 'signature'
  | 'stale'
  | 'expired'
  | 'product'
  | 'rollback'
  | 'digest'
  | 'length'
  | 'decrypt';

export interface UpdateRefused {
  outcome: 'refused';
  reason: UpdateRefusalReason;
  detail: string;
}

/** A release whose metadata verified: what the device will download, check and install. */
export interface VerifiedRelease {
  firmwareId: string;
  product: string;
  version: string;
  imageSha256: string;
  length: number;
  metadataVersion: number;
  expires: string;
  targetPath: string;
}

export interface UpdateAccepted {
  outcome: 'accepted';
  release: VerifiedRelease;
  /** The delegation to remember (persist it with the metadata version once the update is taken). */
  delegation: AcceptedDelegation;
}

export type UpdateDecision = UpdateAccepted | UpdateRefused;

/** A signature check: `signatureValid` by default; a caller may memoise it (same inputs, same answer). */
export type SignatureCheck = (key: FirmwarePublicKey, bytes: Uint8Array, signature: Uint8Array) => boolean;

export interface DecideUpdateOptions {
  signatureCheck?: SignatureCheck;
}

const refuse = (reason: UpdateRefusalReason, detail: string): UpdateRefused => ({ outcome: 'refused', reason, detail });
const base64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

function signatureOf(metadata: TufMetadata, keyid: string): Uint8Array | undefined {
  const found = metadata.signatures.find((s) => s.keyid === keyid);
  return found && new Uint8Array(Buffer.from(found.sig, 'hex'));
}

function delegatedKeys(delegation: TufMetadata): { ecdsa: FirmwarePublicKey; mlDsa: FirmwarePublicKey } | undefined {
  const d = delegation.signed.delegations;
  const role = d?.roles.find((r) => r.name === FIRMWARE_ROLE);
  if (!d || !role || role.keyids.length !== 2 || role.threshold !== 2) return undefined;
  const keys = role.keyids.map((id) => {
    const key = d.keys[id];
    if (!key) return undefined;
    const parsed = firmwarePublicKeyFromTuf(key);
    return parsed.keyid === id ? parsed : undefined;
  });
  const ecdsa = keys.find((k) => k?.scheme === 'ecdsa-sha2-nistp256');
  const mlDsa = keys.find((k) => k?.scheme === 'ml-dsa-65');
  return ecdsa && mlDsa ? { ecdsa, mlDsa } : undefined;
}

const expired = (expires: string, now: Date): boolean => Date.parse(expires) <= now.getTime();

/**
 * The device's decision on an offered update, pure and synchronous (time comes in as `now`).
 * Checks in a fixed order, the first failure wins:
 * 1. both documents parse (`malformed`);
 * 2. the delegation carries a valid signature of the pinned platform key (`signature`/`platform`);
 * 3. its version is not below the accepted one, and an equal version names the same keys (`stale`);
 * 4. it has not expired (`expired`/`delegation`);
 * 5. the metadata is signed by BOTH delegated keys, each signature valid (`signature`/scheme, or
 *    `key-not-delegated` when it is signed by keys this delegation does not name);
 * 6. its metadata version is not below the last accepted (`stale`/`metadata`);
 * 7. it has not expired (`expired`/`metadata`: a freeze attack replays old, validly signed metadata);
 * 8. it describes exactly one image, for this device's product (`product`);
 * 9. that image's version is above the installed one (`rollback`).
 * The image itself is checked after download with checkDownloadedImage (`digest`, `length`).
 */
export function decideUpdate(
  state: DeviceUpdateState,
  offer: UpdateOfferDocuments,
  now: Date,
  options: DecideUpdateOptions = {},
): UpdateDecision {
  const check = options.signatureCheck ?? signatureValid;
  let delegation: TufMetadata;
  let metadata: TufMetadata;
  try {
    delegation = typeof offer.delegation === 'string' ? parseTufMetadata(offer.delegation) : offer.delegation;
    metadata = typeof offer.metadata === 'string' ? parseTufMetadata(offer.metadata) : offer.metadata;
  } catch (error) {
    if (isFirmwareError(error)) return refuse('malformed', 'document');
    throw error;
  }

  // 2. The platform key vouches for the signing keys.
  let platform: FirmwarePublicKey;
  try {
    platform = firmwarePublicKey('ecdsa-sha2-nistp256', state.platformKey);
  } catch {
    return refuse('signature', 'platform');
  }
  const platformSignature = signatureOf(delegation, platformKeyId(state.platformKey));
  if (!platformSignature || !check(platform, signingBytes(delegation.signed), platformSignature))
    return refuse('signature', 'platform');
  let keys: { ecdsa: FirmwarePublicKey; mlDsa: FirmwarePublicKey } | undefined;
  try {
    keys = delegatedKeys(delegation);
  } catch {
    keys = undefined;
  }
  if (!keys) return refuse('malformed', 'delegation');
  const accepted: AcceptedDelegation = {
    version: delegation.signed.version,
    ecdsaPublicKey: base64(keys.ecdsa.publicKey),
    mlDsaPublicKey: base64(keys.mlDsa.publicKey),
  };

  // 3, 4. Not an older delegation (which could bring back a rotated-out key), not expired.
  const known = state.delegation;
  if (known && accepted.version < known.version) return refuse('stale', 'delegation');
  if (
    known &&
    accepted.version === known.version &&
    (accepted.ecdsaPublicKey !== known.ecdsaPublicKey || accepted.mlDsaPublicKey !== known.mlDsaPublicKey)
  )
    return refuse('stale', 'delegation-conflict');
  if (expired(delegation.signed.expires, now)) return refuse('expired', 'delegation');

  // 5. Both signatures, each by its delegated key.
  const bytes = signingBytes(metadata.signed);
  for (const key of [keys.ecdsa, keys.mlDsa]) {
    const signature = signatureOf(metadata, key.keyid);
    if (!signature) {
      const scheme: SignatureScheme = key.scheme;
      return refuse('signature', metadata.signatures.length > 0 ? 'key-not-delegated' : scheme);
    }
    if (!check(key, bytes, signature)) return refuse('signature', key.scheme);
  }

  // 6, 7. Fresh metadata.
  if (metadata.signed.version < state.lastMetadataVersion) return refuse('stale', 'metadata');
  if (expired(metadata.signed.expires, now)) return refuse('expired', 'metadata');

  // 8, 9. One image, ours, newer.
  const entries = Object.entries(metadata.signed.targets);
  if (entries.length !== 1) return refuse('malformed', 'targets');
  const [targetPath, target] = entries[0]!;
  const custom = target.custom.tunnelkey;
  if (custom.product !== state.product || targetPath !== `${custom.product}/${custom.version}`)
    return refuse('product', custom.product === state.product ? 'target-path' : 'product');
  if (compareFirmwareVersions(custom.version, state.installedVersion) <= 0) return refuse('rollback', 'version');

  return {
    outcome: 'accepted',
    delegation: accepted,
    release: {
      firmwareId: custom.firmwareId,
      product: custom.product,
      version: custom.version,
      imageSha256: target.hashes.sha256,
      length: target.length,
      metadataVersion: metadata.signed.version,
      expires: metadata.signed.expires,
      targetPath,
    },
  };
}

/**
 * After download and decryption: the image is exactly the one the metadata describes. Takes the
 * image, or its SHA-256 (hex) and length when the device hashed it chunk by chunk as it wrote it.
 */
export function checkDownloadedImage(
  release: VerifiedRelease,
  image: Uint8Array | { sha256: string; length: number },
): UpdateRefused | undefined {
  const length = image instanceof Uint8Array ? image.length : image.length;
  if (length !== release.length) return refuse('length', `${length}`);
  const digest = image instanceof Uint8Array ? createHash('sha256').update(image).digest('hex') : image.sha256;
  if (digest !== release.imageSha256) return refuse('digest', 'sha256');
  return undefined;
}
