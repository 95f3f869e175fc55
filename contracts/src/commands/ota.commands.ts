/**
 * The OTA service's operator commands (`cmd.ota.<command>`). An image reaches the object store
 * first (the gateway streams the upload there, `OTA_IMAGES` bucket, under an upload name); then
 * RegisterFirmware checks it against what the operator declared and releases it. The queries
 * (ListFirmware, DescribeRollout) answer from the OTA service's views.
 */
import { Type } from '@sinclair/typebox';
import { defineCommand } from '../define-command.js';
import { AggregateId, IsoTimestamp } from '../envelope.js';
import {
  FirmwareImageSize,
  ProductId,
  RolloutWave,
  updateFailureReasons,
  updateSkipReasons,
} from '../events/ota.events.js';
import { Counter, FirmwareVersion, OneOf, Sha256Hex, Struct, Text } from '../primitives.js';

/** The JetStream object store images are uploaded to (the gateway writes, the OTA service reads): `<NS>_OTA_IMAGES`. */
export function firmwareImageBucket(namespace = ''): string {
  return namespace ? `${namespace.toUpperCase()}_OTA_IMAGES` : 'OTA_IMAGES';
}

/** Default OTA_MAX_IMAGE_BYTES: the largest image the gateway takes and the OTA service registers. */
export const defaultMaxFirmwareImageBytes = 64 * 1024 * 1024;

export const RegisterFirmwareProduct = defineCommand({
  name: 'RegisterFirmwareProduct',
  service: 'ota',
  summary:
    'Register a product (hardware id) and the firmware version its devices ship with: only registered products take images.',
  payload: {
    product: ProductId,
    name: Text(200),
    baselineVersion: FirmwareVersion,
  },
  result: Struct({ product: ProductId }),
});

export const RegisterFirmware = defineCommand({
  name: 'RegisterFirmware',
  service: 'ota',
  summary:
    'Register an image uploaded to the object store: its SHA-256 and size are checked against the declared ones, then it is signed (released).',
  payload: {
    firmwareId: AggregateId,
    product: ProductId,
    version: FirmwareVersion,
    imageDigest: Sha256Hex,
    sizeBytes: FirmwareImageSize,
    /** The uploaded object's name in the OTA_IMAGES bucket. */
    objectName: AggregateId,
    releaseNotes: Type.Optional(Text(1000)),
  },
  result: Struct({
    firmwareId: AggregateId,
    metadataVersion: Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1 }),
    metadataDigest: Sha256Hex,
    signingKeyId: AggregateId,
  }),
});

export const StartRollout = defineCommand({
  name: 'StartRollout',
  service: 'ota',
  summary:
    'Roll a released firmware image out to batches in cumulative waves, pausing when failures exceed a threshold.',
  payload: {
    rolloutId: AggregateId,
    firmwareId: AggregateId,
    batchIds: Type.Array(AggregateId, { minItems: 1, maxItems: 64 }),
    /** Cumulative, increasing, the last 100 (e.g. 5, 25, 100). */
    waves: Type.Array(RolloutWave, { minItems: 1, maxItems: 16 }),
    maxFailurePercent: Type.Integer({ minimum: 0, maximum: 100 }),
    /** Boot report deadline per device (default OTA_UPDATE_DEADLINE_SECONDS). */
    deadlineSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 7 * 24 * 3600 })),
  },
  result: Struct({ rolloutId: AggregateId, deviceCount: Counter, excluded: Counter }),
});

export const PauseRollout = defineCommand({
  name: 'PauseRollout',
  service: 'ota',
  summary: 'Pause a running rollout: no new offers until it is resumed (devices offered already may still finish).',
  payload: { rolloutId: AggregateId },
  result: Struct({ rolloutId: AggregateId }),
});

export const ResumeRollout = defineCommand({
  name: 'ResumeRollout',
  service: 'ota',
  summary: 'Resume a paused rollout at the wave it stopped in (or the next one, after a threshold pause).',
  payload: { rolloutId: AggregateId },
  result: Struct({ rolloutId: AggregateId }),
});

export const AbortRollout = defineCommand({
  name: 'AbortRollout',
  service: 'ota',
  summary: 'Abort a running or paused rollout: no device is offered the update any more.',
  payload: { rolloutId: AggregateId },
  result: Struct({ rolloutId: AggregateId }),
});

export const FirmwareSummary = Struct({
  firmwareId: AggregateId,
  product: ProductId,
  version: FirmwareVersion,
  imageDigest: Sha256Hex,
  sizeBytes: FirmwareImageSize,
  metadataVersion: Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1 }),
  signingKeyId: AggregateId,
  expiresAt: IsoTimestamp,
  registeredAt: IsoTimestamp,
});

export const ListFirmware = defineCommand({
  name: 'ListFirmware',
  service: 'ota',
  summary: 'List the released firmware images (newest first), optionally of one product.',
  payload: { product: Type.Optional(ProductId) },
  result: Struct({ images: Type.Array(FirmwareSummary, { maxItems: 1000 }) }),
});

export const rolloutStatuses = ['running', 'paused', 'aborted', 'completed'] as const;

export const WaveProgress = Struct({
  wave: Type.Integer({ minimum: 0, maximum: 15 }),
  percent: Type.Integer({ minimum: 1, maximum: 100 }),
  size: Counter,
  offered: Counter,
  updated: Counter,
  failed: Counter,
  skipped: Counter,
  completed: Type.Boolean(),
});

export const DeviceProgress = Struct({
  deviceId: AggregateId,
  wave: Type.Optional(Type.Integer({ minimum: 0, maximum: 15 })),
  status: OneOf(['offered', 'updated', 'failed', 'skipped']),
  reason: Type.Optional(OneOf([...updateFailureReasons, ...updateSkipReasons])),
});

export const DescribeRollout = defineCommand({
  name: 'DescribeRollout',
  service: 'ota',
  summary: "A rollout's progress: its state (and why it paused), per wave and per device with reasons.",
  payload: { rolloutId: AggregateId },
  result: Struct({
    rolloutId: AggregateId,
    firmwareId: AggregateId,
    version: FirmwareVersion,
    status: OneOf(rolloutStatuses),
    pauseReason: Type.Optional(Text(500)),
    wave: Type.Integer({ minimum: 0, maximum: 15 }),
    deviceCount: Counter,
    updated: Counter,
    failed: Counter,
    skipped: Counter,
    waves: Type.Array(WaveProgress, { maxItems: 16 }),
    devices: Type.Array(DeviceProgress, { maxItems: 10_000 }),
  }),
});
