import { Type } from '@sinclair/typebox';
import { defineCommand } from '../define-command.js';
import { AggregateId } from '../envelope.js';
import { Host, Port, TargetKind } from '../events/onboarding.events.js';
import { Struct, Text } from '../primitives.js';
import { BulkResult } from './scope.js';

export const RegisterTarget = defineCommand({
  name: 'RegisterTarget',
  service: 'onboarding',
  summary: 'Register an onboarding target (a Mosquitto broker first) with the credentials of its admin API.',
  payload: {
    targetId: AggregateId,
    kind: TargetKind,
    name: Text(200),
    host: Host,
    tlsPort: Port,
    /**
     * Admin credentials for the target's management API (Mosquitto dynamic security). The only
     * secret in any contract: the onboarding service stores it encrypted and never puts it in an
     * event, a log line or a reply.
     */
    admin: Struct({
      username: Text(128),
      password: Type.String({ minLength: 1, maxLength: 512, writeOnly: true }),
      /** Admin listener, when it differs from the TLS device listener. */
      port: Type.Optional(Port),
    }),
  },
  result: Struct({ targetId: AggregateId }),
});

export const OnboardBatch = defineCommand({
  name: 'OnboardBatch',
  service: 'onboarding',
  summary: 'Onboard every certified device of a batch to the targets of its server policy (or the named ones).',
  payload: {
    batchId: AggregateId,
    targetIds: Type.Optional(Type.Array(AggregateId, { minItems: 1, maxItems: 16 })),
  },
  result: BulkResult,
});

export const OnboardDevice = defineCommand({
  name: 'OnboardDevice',
  service: 'onboarding',
  summary: 'Onboard one certified device to the targets of its server policy (or the named ones).',
  payload: {
    deviceId: AggregateId,
    targetIds: Type.Optional(Type.Array(AggregateId, { minItems: 1, maxItems: 16 })),
  },
  result: BulkResult,
});
