import { Type } from '@sinclair/typebox';
import { defineEvent } from '../define-event.js';
import { AggregateId, IsoTimestamp } from '../envelope.js';
import { Counter, OneOf, ReasonCode, RevocationReason, Struct, Text } from '../primitives.js';

/**
 * The revocation saga's own log: one aggregate per revocation. Each step it completes is an event,
 * so after a crash it resumes at the first step without one and never repeats a step.
 */

/** Largest set of devices one revocation names; a batch of 1,000 fits with room. */
export const maxDevicesPerRevocation = 10_000;

export const revocationSteps = [
  'certificates-revoked',
  'crl-published',
  'targets-deprovisioned',
  'targets-crl-updated',
  'registry-updated',
] as const;
export const RevocationStep = OneOf(revocationSteps);

export const RevocationRequested = defineEvent({
  type: 'RevocationRequested',
  version: 1,
  context: 'revocation',
  aggregate: 'revocation',
  summary: 'An operator revoked a device or a whole batch, with an RFC 5280 reason; the saga starts.',
  public: true,
  data: Struct({
    revocationId: AggregateId,
    scope: OneOf(['device', 'batch']),
    batchId: Type.Optional(AggregateId),
    deviceIds: Type.Array(AggregateId, { minItems: 1, maxItems: maxDevicesPerRevocation }),
    reason: RevocationReason,
  }),
});

export const RevocationStepCompleted = defineEvent({
  type: 'RevocationStepCompleted',
  version: 1,
  context: 'revocation',
  aggregate: 'revocation',
  summary: 'One step of a revocation saga finished (for all its devices, or one target).',
  data: Struct({
    revocationId: AggregateId,
    step: RevocationStep,
    /** Set for per-target steps. */
    targetId: Type.Optional(AggregateId),
    /** Set once the CA published the CRL that lists the devices. */
    crlNumber: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })),
    devices: Counter,
  }),
});

export const RevocationCompleted = defineEvent({
  type: 'RevocationCompleted',
  version: 1,
  context: 'revocation',
  aggregate: 'revocation',
  summary: 'Every step of a revocation finished: the devices are cut off on every target.',
  public: true,
  data: Struct({
    revocationId: AggregateId,
    devicesRevoked: Counter,
    /** Devices that were revoked before: nothing was repeated for them. */
    alreadyRevoked: Counter,
    durationMs: Counter,
  }),
});

export const RevocationFailed = defineEvent({
  type: 'RevocationFailed',
  version: 1,
  context: 'revocation',
  aggregate: 'revocation',
  summary: 'A revocation step failed past its retries; operators must act (the saga stays resumable).',
  public: true,
  data: Struct({
    revocationId: AggregateId,
    step: RevocationStep,
    targetId: Type.Optional(AggregateId),
    reason: ReasonCode,
    detail: Type.Optional(Text(512)),
  }),
});

/** Where a revocation waits: the context whose part (or its own next step) has not happened yet. */
export const revocationWaits = ['ca', 'onboarding', 'registry', 'revocation'] as const;
/** The step a stalled revocation waits for: one of the steps, or its completion. */
export const RevocationAwaitedStep = OneOf([...revocationSteps, 'completed']);
/** Targets a stalled revocation still waits for, listed up to this many (the count is always there). */
export const maxTargetsListed = 100;

const waiting = {
  revocationId: AggregateId,
  /** The context that has not done its part yet (`revocation`: the saga's own append). */
  waitingFor: OneOf(revocationWaits),
  step: RevocationAwaitedStep,
  /** When the revocation last moved forward (its request, or its last step). */
  since: IsoTimestamp,
  /** Targets that have not enforced the revocation yet (step targets-*): how many, and the first ones. */
  pendingTargets: Type.Optional(Counter),
  pendingTargetIds: Type.Optional(Type.Array(AggregateId, { maxItems: maxTargetsListed })),
};

export const RevocationStalled = defineEvent({
  type: 'RevocationStalled',
  version: 1,
  context: 'revocation',
  aggregate: 'revocation',
  summary:
    'A revocation has not moved forward for longer than its stall threshold; the saga keeps retrying and operators are alerted.',
  public: true,
  data: Struct({
    ...waiting,
    /** The threshold it passed (REVOCATION_STALL_MS). */
    stalledAfterMs: Counter,
  }),
});

export const RevocationEscalated = defineEvent({
  type: 'RevocationEscalated',
  version: 1,
  context: 'revocation',
  aggregate: 'revocation',
  summary:
    'A revocation missed its deadline without completing; escalated to operators, the saga never gives up and keeps retrying.',
  public: true,
  data: Struct({
    ...waiting,
    /** When the revocation was requested, and the deadline it missed (REVOCATION_DEADLINE_MS after it). */
    requestedAt: IsoTimestamp,
    deadlineMs: Counter,
  }),
});
