import { Type } from '@sinclair/typebox';
import { defineEvent } from '../define-event.js';
import { AggregateId } from '../envelope.js';
import {
  CertificatePem,
  Counter,
  EcdsaP256Signature,
  FirmwareVersion,
  OneOf,
  Sha256Hex,
  Struct,
  Text,
} from '../primitives.js';

/** Product line a firmware image is built for, e.g. `fridge-x200`. */
export const ProductId = AggregateId;

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
    /** SHA-256 of the plaintext image: what a device measures after installing it. */
    imageDigest: Sha256Hex,
    sizeBytes: Type.Integer({ minimum: 1, maximum: 256 * 1024 * 1024 }),
    /** Object-store key of the image (JetStream object store); the image is never in an event. */
    objectName: AggregateId,
    releaseNotes: Type.Optional(Text(1000)),
  }),
});

export const FirmwareImageSigned = defineEvent({
  type: 'FirmwareImageSigned',
  version: 1,
  context: 'ota',
  aggregate: 'firmware',
  summary: 'A firmware image was signed (and encrypted per device for delivery); devices install only signed images.',
  public: true,
  data: Struct({
    firmwareId: AggregateId,
    /** SHA-256 of the canonical manifest (product, version, image digest) that was signed. */
    manifestDigest: Sha256Hex,
    algorithm: OneOf(['ECDSA-P256-SHA256']),
    signature: EcdsaP256Signature,
    signingKeyId: AggregateId,
    signerCertificatePem: CertificatePem,
    /** Per-device encryption under the device's PUF-derived firmware key happens at offer time. */
    encrypted: Type.Boolean(),
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
    version: FirmwareVersion,
    batchIds: Type.Array(AggregateId, { minItems: 1, maxItems: 64 }),
    waves: Type.Array(RolloutWave, { minItems: 1, maxItems: 16 }),
    /** The rollout pauses itself when a wave's failure share exceeds this. */
    maxFailurePercent: Type.Integer({ minimum: 0, maximum: 100 }),
    deviceCount: Counter,
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
    /** Devices revoked, offline past the deadline, or already on the version. */
    skipped: Counter,
  }),
});

export const DeviceUpdateOffered = defineEvent({
  type: 'DeviceUpdateOffered',
  version: 1,
  context: 'ota',
  aggregate: 'device',
  summary: 'A device was offered a firmware update as part of a rollout wave.',
  public: true,
  data: Struct({
    deviceId: AggregateId,
    rolloutId: AggregateId,
    firmwareId: AggregateId,
    version: FirmwareVersion,
    wave: Type.Integer({ minimum: 0, maximum: 15 }),
    imageDigest: Sha256Hex,
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

export const updateFailureReasons = [
  'download-failed',
  'bad-signature',
  'decryption-failed',
  'measurement-mismatch',
  'boot-failed-rolled-back',
  'declined-by-device',
  'timeout',
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
    detail: Type.Optional(Text(512)),
  }),
});
