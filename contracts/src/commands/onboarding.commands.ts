import { Type } from '@sinclair/typebox';
import { defineCommand } from '../define-command.js';
import { AggregateId } from '../envelope.js';
import { Host, Port, TargetKind } from '../events/onboarding.events.js';
import { CertificatePem, Struct, Text } from '../primitives.js';
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
     * Admin credentials for the target's management API (Mosquitto dynamic security). The secret
     * never travels on the bus: `passwordFile` names a file the platform team mounts in the
     * onboarding service's secrets directory (ONBOARDING_TARGET_SECRETS_DIR); the service reads it
     * when it connects and never puts it in an event, a log line or a reply.
     */
    admin: Struct({
      username: Text(128),
      /**
       * Deprecated: the password in plain text on the bus. Still in the schema so that an old client
       * gets a clear refusal (`plaintext-secret-refused`) instead of a schema error; always refused.
       */
      password: Type.Optional(Type.String({ minLength: 1, maxLength: 512, writeOnly: true, deprecated: true })),
      /** Name of the file holding the admin password in the onboarding service's secrets directory (no path). */
      passwordFile: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$' })),
      /** Admin listener host, when it differs from the device host (a private network). */
      host: Type.Optional(Host),
      /** Admin listener, when it differs from the TLS device listener. */
      port: Type.Optional(Port),
      /** MQTT over TLS to the admin listener, its server certificate verified against this CA. */
      tls: Type.Optional(Struct({ caPem: CertificatePem })),
    }),
    /** The owner the target belongs to; the gateway sets the caller's. Absent: the default owner. */
    ownerId: Type.Optional(AggregateId),
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
