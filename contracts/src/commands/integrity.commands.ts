import { Type } from '@sinclair/typebox';
import { defineCommand } from '../define-command.js';
import { AggregateId, IsoTimestamp } from '../envelope.js';
import {
  HeartbeatPeriodSeconds,
  IntegrityAction,
  IntegrityPolicyDefined,
  IntegrityViolationDetected,
  MissedPeriods,
} from '../events/integrity.events.js';
import { Counter, Sha256Hex, Struct, Text } from '../primitives.js';

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

/** A violation as recorded, and when. */
const Violation = Struct({ ...IntegrityViolationDetected.data.properties, detectedAt: IsoTimestamp });

export const ListIntegrityAlerts = defineCommand({
  name: 'ListIntegrityAlerts',
  service: 'registry',
  summary: 'The newest integrity violations of the fleet (the alert list), newest first.',
  payload: { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) },
  result: Struct({ alerts: Type.Array(Violation, { maxItems: 1000 }) }),
});

export const DescribeDeviceIntegrity = defineCommand({
  name: 'DescribeDeviceIntegrity',
  service: 'registry',
  summary:
    "One device's integrity: quarantined or not, the measurement expected of it, its policy, its last heartbeat, its violations and timeline.",
  payload: { deviceId: AggregateId },
  result: Struct({
    deviceId: AggregateId,
    quarantined: Type.Boolean(),
    expectedMeasurement: Type.Optional(Sha256Hex),
    policy: IntegrityPolicyDefined.data,
    /** The last heartbeat the answering registry instance accepted (none since it started: absent). */
    lastHeartbeat: Type.Optional(Struct({ counter: Counter, sentAt: IsoTimestamp, receivedAt: IsoTimestamp })),
    violations: Type.Array(Violation, { maxItems: 200 }),
    timeline: Type.Array(Struct({ at: IsoTimestamp, type: Text(64), detail: Text(512) }), { maxItems: 200 }),
  }),
});
