/**
 * The OTA context's events (stream OTA). Aggregates:
 * - `firmware`: one product's firmware line, `ota.firmware.<product>`: the product registered, then
 *   each image registered and released (signed). One subject per product, so "a version above the
 *   current release" is decided under the product's optimistic-concurrency check.
 * - `signing-key`: one generation of the firmware-signing key pair, `ota.signing-key.<keyId>`,
 *   with the platform key's delegation to it.
 * - `rollout`: one rollout, `ota.rollout.<rolloutId>`: started, waves, paused/resumed/aborted, completed.
 * - `device`: one device's OTA facts, `ota.device.<deviceId>`: its firmware-decryption public keys,
 *   and per rollout: offered, then applied, failed or skipped.
 *
 * v1 of these events was declared before any producer existed (no log holds one); the OTA service
 * reshaped them deliberately when it was built (issue 16): the signed release is TUF targets
 * metadata with two signatures, devices get per-device key wraps at offer time, and rollouts
 * record their waves and exclusions.
 */
import { Type } from '@sinclair/typebox';
import { defineEvent } from '../define-event.js';
import { AggregateId, IsoTimestamp } from '../envelope.js';
import {
  Base64,
  Counter,
  EcdsaP256Signature,
  FirmwareVersion,
  OneOf,
  Sha256Hex,
  SpkiDerBase64,
  Struct,
  Text,
} from '../primitives.js';

/** Product line (hardware id) a firmware image is built for, e.g. `fridge-x200`. */
export const ProductId = AggregateId;

/** Largest image the contract admits; the OTA service's own limit (OTA_MAX_IMAGE_BYTES) is lower. */
export const maxFirmwareImageBytes = 256 * 1024 * 1024;
export const FirmwareImageSize = Type.Integer({ minimum: 1, maximum: maxFirmwareImageBytes });

/** Signed metadata travels as the exact JSON text that was signed (TUF style), never re-serialised. */
export const SignedMetadataJson = Type.String({ minLength: 2, maxLength: 64 * 1024 });

/** ML-KEM-768 encapsulation key (FIPS 203): 1,184 bytes, base64. */
export const MlKemPublicKey = Base64(1184, { minLength: 1580, description: 'ML-KEM-768 encapsulation key, base64' });
/** ML-DSA-65 public key (FIPS 204): 1,952 bytes, base64. */
export const MlDsaPublicKey = Base64(1952, { minLength: 2600, description: 'ML-DSA-65 public key, base64' });

export const FirmwareProductRegistered = defineEvent({
  type: 'FirmwareProductRegistered',
  version: 1,
  context: 'ota',
  aggregate: 'firmware',
  summary: 'An operator registered a product (hardware id) and the firmware version its devices ship with.',
  public: true,
  data: Struct({
    product: ProductId,
    name: Text(200),
    /** The factory firmware: the first release must be above it. */
    baselineVersion: FirmwareVersion,
  }),
});

export const FirmwareImageRegistered = defineEvent({
  type: 'FirmwareImageRegistered',
  version: 1,
  context: 'ota',
  aggregate: 'firmware',
  summary: 'A firmware image was uploaded and registered (its digest, size and where it is stored).',
  public: true,
  data: Struct({
    firmwareId: AggregateId,
    product: ProductId,
    version: FirmwareVersion,
    /** SHA-256 of the plaintext image, checked against the uploaded bytes: what a device measures after installing it. */
    imageDigest: Sha256Hex,
    sizeBytes: FirmwareImageSize,
    /** Object-store key of the image (JetStream object store); the image is never in an event. */
    objectName: AggregateId,
    releaseNotes: Type.Optional(Text(1000)),
  }),
});

export const signatureAlgorithms = ['ecdsa-p256-sha256', 'ml-dsa-65'] as const;

export const FirmwareImageSigned = defineEvent({
  type: 'FirmwareImageSigned',
  version: 1,
  context: 'ota',
  aggregate: 'firmware',
  summary:
    'A firmware image was released: signed targets metadata (TUF format) with an ECDSA P-256 and an ML-DSA-65 signature.',
  public: true,
  data: Struct({
    firmwareId: AggregateId,
    product: ProductId,
    version: FirmwareVersion,
    /** The targets metadata's version: grows with every release of the product. */
    metadataVersion: Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1 }),
    expiresAt: IsoTimestamp,
    /** The signing-key generation that signed it (its delegation is FirmwareSigningKeyDelegated). */
    signingKeyId: AggregateId,
    algorithms: Type.Array(OneOf(signatureAlgorithms), { minItems: 2, maxItems: 2 }),
    /** SHA-256 of the signed targets metadata text. */
    metadataDigest: Sha256Hex,
    /** The signed targets metadata, exactly as signed (public: devices and standard tooling read it). */
    targets: SignedMetadataJson,
  }),
});

export const FirmwareSigningKeyDelegated = defineEvent({
  type: 'FirmwareSigningKeyDelegated',
  version: 1,
  context: 'ota',
  aggregate: 'signing-key',
  summary:
    'The platform key delegated firmware signing to a key pair of the OTA service (ECDSA P-256 + ML-DSA-65); devices learn it from the delegation.',
  public: true,
  data: Struct({
    keyId: AggregateId,
    /** Generations grow; a device refuses metadata signed by a generation its newest delegation does not name. */
    generation: Type.Integer({ minimum: 1, maximum: 65535 }),
    ecdsaPublicKey: SpkiDerBase64,
    mlDsaPublicKey: MlDsaPublicKey,
    /** The delegation metadata signed by the platform key, exactly as signed. */
    delegation: SignedMetadataJson,
  }),
});

export const RolloutWave = Struct({
  /** Cumulative share of the rollout's devices offered the update by the end of this wave. */
  percent: Type.Integer({ minimum: 1, maximum: 100 }),
});

export const RolloutStarted = defineEvent({
  type: 'RolloutStarted',
  version: 1,
  context: 'ota',
  aggregate: 'rollout',
  summary: 'An operator started rolling a signed firmware image out to batches, in waves.',
  public: true,
  data: Struct({
    rolloutId: AggregateId,
    firmwareId: AggregateId,
    product: ProductId,
    version: FirmwareVersion,
    imageDigest: Sha256Hex,
    batchIds: Type.Array(AggregateId, { minItems: 1, maxItems: 64 }),
    /** Cumulative and increasing; the last is 100. */
    waves: Type.Array(RolloutWave, { minItems: 1, maxItems: 16 }),
    /** The rollout pauses itself when a wave's failure share exceeds this. */
    maxFailurePercent: Type.Integer({ minimum: 0, maximum: 100 }),
    /** A device offered the update must send its boot report within this. */
    deadlineSeconds: Type.Integer({ minimum: 1, maximum: 7 * 24 * 3600 }),
    /** Plaintext bytes per encrypted chunk of this rollout's image. */
    chunkSize: Type.Integer({ minimum: 1024, maximum: 1024 * 1024 }),
    /** Devices of the batches eligible at the start (the waves' shares are of this number). */
    deviceCount: Counter,
    /** Devices of the batches excluded at the start (each a DeviceUpdateSkipped with its reason). */
    excluded: Counter,
  }),
});

export const RolloutWaveStarted = defineEvent({
  type: 'RolloutWaveStarted',
  version: 1,
  context: 'ota',
  aggregate: 'rollout',
  summary: 'A rollout wave started: its devices are offered the update.',
  public: true,
  data: Struct({
    rolloutId: AggregateId,
    wave: Type.Integer({ minimum: 0, maximum: 15 }),
    percent: Type.Integer({ minimum: 1, maximum: 100 }),
    /** Devices this wave takes (cumulative target minus the earlier waves'). */
    size: Counter,
  }),
});

export const RolloutWaveCompleted = defineEvent({
  type: 'RolloutWaveCompleted',
  version: 1,
  context: 'ota',
  aggregate: 'rollout',
  summary: "Every device of a rollout wave answered, failed or was skipped; the wave's counts.",
  public: true,
  data: Struct({
    rolloutId: AggregateId,
    wave: Type.Integer({ minimum: 0, maximum: 15 }),
    updated: Counter,
    failed: Counter,
    skipped: Counter,
  }),
});

export const RolloutPaused = defineEvent({
  type: 'RolloutPaused',
  version: 1,
  context: 'ota',
  aggregate: 'rollout',
  summary: 'A rollout was paused, by an operator or because too many devices failed to update.',
  public: true,
  data: Struct({
    rolloutId: AggregateId,
    reason: OneOf(['operator', 'failure-threshold']),
    wave: Type.Integer({ minimum: 0, maximum: 15 }),
    updated: Counter,
    failed: Counter,
    /** Why, for a person: e.g. "wave 1: 3 of 10 devices failed (30 % > 20 %)". */
    detail: Type.Optional(Text(500)),
  }),
});

export const RolloutResumed = defineEvent({
  type: 'RolloutResumed',
  version: 1,
  context: 'ota',
  aggregate: 'rollout',
  summary: 'A paused rollout was resumed by an operator.',
  public: true,
  data: Struct({
    rolloutId: AggregateId,
    wave: Type.Integer({ minimum: 0, maximum: 15 }),
  }),
});

export const RolloutAborted = defineEvent({
  type: 'RolloutAborted',
  version: 1,
  context: 'ota',
  aggregate: 'rollout',
  summary: 'An operator aborted a rollout: no device is offered the update any more.',
  public: true,
  data: Struct({
    rolloutId: AggregateId,
    wave: Type.Integer({ minimum: 0, maximum: 15 }),
    updated: Counter,
    failed: Counter,
  }),
});

export const RolloutCompleted = defineEvent({
  type: 'RolloutCompleted',
  version: 1,
  context: 'ota',
  aggregate: 'rollout',
  summary: 'Every wave of a rollout finished; final counts of updated, failed and skipped devices.',
  public: true,
  data: Struct({
    rolloutId: AggregateId,
    updated: Counter,
    failed: Counter,
    /** Devices revoked, not certified, offline, or without firmware keys. */
    skipped: Counter,
  }),
});

/**
 * The owner epoch a device's firmware-decryption keys belong to (0: the first owner's; each
 * ownership transfer moves the device to the next, OwnershipTransferCompleted). The device derives
 * other keys under each epoch.
 */
export const FirmwareKeysOwnerEpoch = Type.Integer({ minimum: 0, maximum: 65535 });

export const DeviceFirmwareKeysRecorded = defineEvent({
  type: 'DeviceFirmwareKeysRecorded',
  version: 2,
  context: 'ota',
  aggregate: 'device',
  summary:
    "A device's firmware-decryption public keys (ECDH P-256 and ML-KEM-768, PUF-derived) of one owner epoch, attested by its enrolment key.",
  public: true,
  data: Struct({
    deviceId: AggregateId,
    /** The owner epoch the keys are derived under; keys of an epoch below the device's current one are never wrapped for. */
    ownerEpoch: FirmwareKeysOwnerEpoch,
    ecdhPublicKey: SpkiDerBase64,
    mlKemPublicKey: MlKemPublicKey,
    /**
     * The enrolment key's signature over the keys and, from epoch 1 on, their epoch
     * (@tunnelkey/firmware encryptionKeysAttestationBytes; anyone can check it against DeviceIdentityImported's key).
     */
    attestation: EcdsaP256Signature,
  }),
});

export const DeviceUpdateOffered = defineEvent({
  type: 'DeviceUpdateOffered',
  version: 1,
  context: 'ota',
  aggregate: 'device',
  summary: 'A device was offered a firmware update as part of a rollout wave (recorded before it is sent).',
  public: true,
  data: Struct({
    deviceId: AggregateId,
    rolloutId: AggregateId,
    firmwareId: AggregateId,
    version: FirmwareVersion,
    wave: Type.Integer({ minimum: 0, maximum: 15 }),
    imageDigest: Sha256Hex,
    /** The boot report must arrive before this, else the update failed (`timeout`). */
    deadline: IsoTimestamp,
  }),
});

export const DeviceUpdateApplied = defineEvent({
  type: 'DeviceUpdateApplied',
  version: 1,
  context: 'ota',
  aggregate: 'device',
  summary: 'A device installed an update and booted it; its new firmware measurement matches the image.',
  public: true,
  data: Struct({
    deviceId: AggregateId,
    rolloutId: AggregateId,
    firmwareId: AggregateId,
    version: FirmwareVersion,
    firmwareMeasurement: Sha256Hex,
  }),
});

/** Why a device did not apply an update: what the device reported, or `timeout` (no boot report before the deadline). */
export const updateFailureReasons = [
  'signature',
  'rollback',
  'expired',
  'stale-metadata',
  'product',
  'decrypt',
  'digest',
  'download',
  'boot-failed',
  'timeout',
  'other',
] as const;

export const DeviceUpdateFailed = defineEvent({
  type: 'DeviceUpdateFailed',
  version: 1,
  context: 'ota',
  aggregate: 'device',
  summary: 'A device did not apply an offered update; it keeps (or rolled back to) its previous firmware.',
  public: true,
  data: Struct({
    deviceId: AggregateId,
    rolloutId: AggregateId,
    firmwareId: AggregateId,
    reason: OneOf(updateFailureReasons),
    /** The measurement the device reported running, if it reported one. */
    firmwareMeasurement: Type.Optional(Sha256Hex),
    detail: Type.Optional(Text(512)),
  }),
});

/**
 * Why a device of the rollout's batches was not offered the update: revoked, not (yet) certified,
 * offline (its last connection event is a disconnect, or it never answered the offer before it
 * expired), without firmware keys (it never reported them), or the rollout was aborted first.
 */
export const updateSkipReasons = ['revoked', 'not-certified', 'offline', 'no-firmware-keys', 'aborted'] as const;

export const DeviceUpdateSkipped = defineEvent({
  type: 'DeviceUpdateSkipped',
  version: 1,
  context: 'ota',
  aggregate: 'device',
  summary: 'A device of a rollout was excluded from it, with the reason (never silently).',
  public: true,
  data: Struct({
    deviceId: AggregateId,
    rolloutId: AggregateId,
    firmwareId: AggregateId,
    reason: OneOf(updateSkipReasons),
    /** The wave that picked it; absent for the devices excluded at the start. */
    wave: Type.Optional(Type.Integer({ minimum: 0, maximum: 15 })),
  }),
});
