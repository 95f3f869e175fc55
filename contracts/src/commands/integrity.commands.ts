import { Type } from '@sinclair/typebox';
import { defineCommand } from '../define-command.js';
import { AggregateId } from '../envelope.js';
import { HeartbeatPeriodSeconds, IntegrityAction, MissedPeriods } from '../events/integrity.events.js';
import { Struct, Text } from '../primitives.js';

export const SetIntegrityPolicy = defineCommand({
  name: 'SetIntegrityPolicy',
  service: 'registry',
  summary:
    "Set a server policy's integrity monitoring: heartbeat period (default 60 s), silence allowed in periods (default 1.5), and what a violation does (alert, quarantine, revoke; default alert).",
  payload: {
    policyId: AggregateId,
    heartbeatPeriodSeconds: Type.Optional(HeartbeatPeriodSeconds),
    missedPeriods: Type.Optional(MissedPeriods),
    action: Type.Optional(IntegrityAction),
  },
  result: Struct({ policyId: AggregateId }),
});

export const ReleaseQuarantine = defineCommand({
  name: 'ReleaseQuarantine',
  service: 'registry',
  summary: 'Release a quarantined device: its brokers give it its policy rights back.',
  payload: { deviceId: AggregateId, note: Type.Optional(Text(512)) },
  result: Struct({ deviceId: AggregateId, released: Type.Boolean() }),
});
