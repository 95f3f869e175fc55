import { Type } from '@sinclair/typebox';
import { defineCommand } from '../define-command.js';
import { AggregateId } from '../envelope.js';
import { FirmwareImageRegistered, RolloutWave } from '../events/ota.events.js';
import { Counter, FirmwareVersion, Sha256Hex, Struct, Text } from '../primitives.js';

const image = FirmwareImageRegistered.data.properties;

export const RegisterFirmware = defineCommand({
  name: 'RegisterFirmware',
  service: 'ota',
  summary:
    'Register a firmware image already uploaded to the object store; the OTA service checks its digest and signs it.',
  payload: {
    firmwareId: AggregateId,
    product: image.product,
    version: FirmwareVersion,
    imageDigest: Sha256Hex,
    sizeBytes: image.sizeBytes,
    objectName: AggregateId,
    releaseNotes: Type.Optional(Text(1000)),
  },
  result: Struct({ firmwareId: AggregateId, manifestDigest: Sha256Hex }),
});

export const StartRollout = defineCommand({
  name: 'StartRollout',
  service: 'ota',
  summary: 'Roll a signed firmware image out to batches in waves, pausing when failures exceed a threshold.',
  payload: {
    rolloutId: AggregateId,
    firmwareId: AggregateId,
    batchIds: Type.Array(AggregateId, { minItems: 1, maxItems: 64 }),
    waves: Type.Array(RolloutWave, { minItems: 1, maxItems: 16 }),
    maxFailurePercent: Type.Integer({ minimum: 0, maximum: 100 }),
  },
  result: Struct({ rolloutId: AggregateId, deviceCount: Counter }),
});

export const PauseRollout = defineCommand({
  name: 'PauseRollout',
  service: 'ota',
  summary: 'Pause a rollout: no new offers until it is resumed.',
  payload: { rolloutId: AggregateId },
  result: Struct({ rolloutId: AggregateId }),
});

export const ResumeRollout = defineCommand({
  name: 'ResumeRollout',
  service: 'ota',
  summary: 'Resume a paused rollout at the wave it stopped in.',
  payload: { rolloutId: AggregateId },
  result: Struct({ rolloutId: AggregateId }),
});
