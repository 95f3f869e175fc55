import { Type } from '@sinclair/typebox';
import { defineCommand } from '../define-command.js';
import { AggregateId } from '../envelope.js';
import { OneOf, Struct } from '../primitives.js';
import { DeviceScope } from './scope.js';

export const RenewCertificates = defineCommand({
  name: 'RenewCertificates',
  service: 'ca',
  summary:
    'Renew the certificates of a device, a list or a batch (rotate then revoke): new key, attested CSR, new certificate, switch, then the old one revoked.',
  payload: {
    scope: DeviceScope,
    /** `key-exposure` after a suspected key exposure; `operator` otherwise (default). */
    reason: Type.Optional(OneOf(['operator', 'key-exposure'])),
  },
  result: Struct({
    /** Follow it with GetRenewalProgress. */
    operationId: AggregateId,
    /** Renewals started (devices with a renewal under way already are counted, not started twice). */
    devices: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    skipped: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  }),
});

const Count = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

export const GetRenewalProgress = defineCommand({
  name: 'GetRenewalProgress',
  service: 'ca',
  summary: 'How far the renewals of one RenewCertificates command (or scheduler sweep) are.',
  payload: { operationId: AggregateId },
  result: Struct({
    operationId: AggregateId,
    requested: Count,
    renewed: Count,
    completed: Count,
    expired: Count,
  }),
});

export const SetRenewalPolicy = defineCommand({
  name: 'SetRenewalPolicy',
  service: 'registry',
  summary:
    "Set a server policy's renewal: share of lifetime after which certificates renew (default 2/3), jitter, and optionally a lifetime in seconds (down to one hour).",
  payload: {
    policyId: AggregateId,
    renewAtShare: Type.Optional(Type.Number({ minimum: 0.1, maximum: 0.95 })),
    jitterShare: Type.Optional(Type.Number({ minimum: 0, maximum: 0.5 })),
    certificateLifetimeSeconds: Type.Optional(Type.Integer({ minimum: 3600, maximum: 3650 * 86_400 })),
  },
  result: Struct({ policyId: AggregateId }),
});
