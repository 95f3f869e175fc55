import { Type } from '@sinclair/typebox';
import { defineEvent } from '../define-event.js';
import { AggregateId, IsoTimestamp } from '../envelope.js';
import { Counter, OneOf, Sha256Hex, Struct, Text } from '../primitives.js';

/**
 * Integrity monitoring (issue 17; docs/integrity.md). Devices send a signed heartbeat on their
 * policy's period with their boot measurement; the registry compares it with the measurement it
 * expects (the release OTA installed, else the one enrolled) and records a violation on a
 * mismatch, a counter that goes back while time goes forward (a second holder of the device's
 * key), or silence longer than the policy allows. Each device's monitoring is its own aggregate
 * (`registry.integrity.<deviceId>`), apart from its lifecycle, so heartbeat-driven writes never
 * contend with enrolment or certification. Onboarding enforces a quarantine at the brokers.
 */

/** What a violation makes the platform do: record it only, restrict the device at its brokers, or revoke it. */
export const integrityActions = ['alert', 'quarantine', 'revoke'] as const;
export type IntegrityAction = (typeof integrityActions)[number];
export const IntegrityAction = OneOf(integrityActions);

export const integrityViolationKinds = ['measurement-mismatch', 'counter-regression', 'heartbeat-missing'] as const;
export type IntegrityViolationKind = (typeof integrityViolationKinds)[number];

export const defaultHeartbeatPeriodSeconds = 60;
/** Silence longer than this many periods is a violation (1.5: one heartbeat lost in transit is not). */
export const defaultMissedPeriods = 1.5;
export const defaultIntegrityAction: IntegrityAction = 'alert';

export const HeartbeatPeriodSeconds = Type.Integer({ minimum: 1, maximum: 86_400 });
export const MissedPeriods = Type.Number({ minimum: 1.2, maximum: 100 });

export const IntegrityPolicyDefined = defineEvent({
  type: 'IntegrityPolicyDefined',
  version: 1,
  context: 'registry',
  aggregate: 'policy',
  summary:
    "A server policy's integrity monitoring: how often its devices send a heartbeat, how much silence is a violation, and what a violation does.",
  public: true,
  data: Struct({
    policyId: AggregateId,
    heartbeatPeriodSeconds: HeartbeatPeriodSeconds,
    /** Silence longer than `missedPeriods` x the period is a `heartbeat-missing` violation. */
    missedPeriods: MissedPeriods,
    action: IntegrityAction,
  }),
});

export const IntegrityViolationDetected = defineEvent({
  type: 'IntegrityViolationDetected',
  version: 1,
  context: 'registry',
  aggregate: 'integrity',
  summary:
    "A device's heartbeat showed an unexpected measurement, a counter going back, or did not come: what its policy does about it is in `action`.",
  public: true,
  data: Struct({
    deviceId: AggregateId,
    violationId: AggregateId,
    kind: OneOf(integrityViolationKinds),
    action: IntegrityAction,
    /** The measurement the platform expected (installed release, or the enrolled one) and the one reported. */
    expectedMeasurement: Type.Optional(Sha256Hex),
    observedMeasurement: Type.Optional(Sha256Hex),
    /** The offending heartbeat's counter, and the highest the platform had accepted before it. */
    counter: Type.Optional(Counter),
    lastCounter: Type.Optional(Counter),
    /** When the offending heartbeat was sent (its signed time), or the last heartbeat before a silence. */
    heartbeatAt: Type.Optional(IsoTimestamp),
    detail: Type.Optional(Text(512)),
  }),
});

export const DeviceQuarantined = defineEvent({
  type: 'DeviceQuarantined',
  version: 1,
  context: 'registry',
  aggregate: 'integrity',
  summary:
    'A device is quarantined after an integrity violation: it stays connected to its brokers but may publish only to its quarantine topic.',
  public: true,
  data: Struct({ deviceId: AggregateId, violationId: AggregateId }),
});

export const DeviceQuarantineReleased = defineEvent({
  type: 'DeviceQuarantineReleased',
  version: 1,
  context: 'registry',
  aggregate: 'integrity',
  summary: 'An operator released a device from quarantine: its policy rights at the brokers are back.',
  public: true,
  data: Struct({
    deviceId: AggregateId,
    /** Who released it (the authenticated caller), and why. */
    releasedBy: AggregateId,
    note: Type.Optional(Text(512)),
  }),
});

export const DeviceQuarantineEnforced = defineEvent({
  type: 'DeviceQuarantineEnforced',
  version: 1,
  context: 'onboarding',
  aggregate: 'device',
  summary:
    "A target applied a device's quarantine (quarantined: true) or its release (false) to the live session, or could not (`failed`).",
  public: true,
  data: Struct({
    deviceId: AggregateId,
    targetId: AggregateId,
    quarantined: Type.Boolean(),
    failed: Type.Optional(Text(512)),
  }),
});
