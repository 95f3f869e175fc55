import { Type } from '@sinclair/typebox';
import { defineCommand } from '../define-command.js';
import { AggregateId } from '../envelope.js';
import { RevocationReason, Struct } from '../primitives.js';

const RevocationStarted = Struct({
  revocationId: AggregateId,
  /** Devices the saga will cut off. */
  devices: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  /** Devices already revoked: nothing is repeated for them (no second CRL entry). */
  alreadyRevoked: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
});

export const RevokeDevice = defineCommand({
  name: 'RevokeDevice',
  service: 'revocation',
  summary: 'Revoke one device with an RFC 5280 reason: certificates revoked, CRL published, cut off on every target.',
  payload: { deviceId: AggregateId, reason: RevocationReason },
  result: RevocationStarted,
});

export const RevokeBatch = defineCommand({
  name: 'RevokeBatch',
  service: 'revocation',
  summary: 'Revoke every device of a batch with one command and one CRL.',
  payload: { batchId: AggregateId, reason: RevocationReason },
  result: RevocationStarted,
});
