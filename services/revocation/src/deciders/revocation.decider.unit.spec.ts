import { CommandRejected } from '@tunnelkey/eventstore';
import { deciderSpecification } from '@tunnelkey/testing';
import { revocationDecider, type RevocationCommand } from './revocation.decider.js';

const revocationId = 'rv-1';
const now = '2026-03-01T12:00:01.500Z';
const request = { revocationId, scope: 'device' as const, deviceIds: ['d-1'], reason: 'keyCompromise' as const };
const cmd = (command: Omit<RevocationCommand, 'metadata'>): RevocationCommand =>
  ({ ...command, metadata: { commandId: 'c', now } }) as RevocationCommand;
type Step = Extract<RevocationCommand, { type: 'CompleteStep' }>['data'];
const step = (s: Step['step'], extra: Partial<Step> = {}): Step => ({ revocationId, step: s, devices: 1, ...extra });
const requested = { type: 'RevocationRequested', version: 1, data: request };
const completed = (s: Step['step'], extra: Partial<Step> = {}) => ({
  type: 'RevocationStepCompleted',
  version: 1,
  data: step(s, extra),
});
const complete = cmd({ type: 'CompleteRevocation', data: { revocationId, devicesRevoked: 1, alreadyRevoked: 0 } });
const spec = deciderSpecification(revocationDecider, { aggregateId: revocationId });

const upToCrl = [requested, completed('certificates-revoked'), completed('crl-published', { crlNumber: 2 })];
const allTargets = [
  ...upToCrl,
  completed('targets-deprovisioned', { targetId: 'broker-a' }),
  completed('targets-crl-updated', { targetId: 'broker-a' }),
];

describe('revocation saga decider', () => {
  describe('when nothing was requested', () => {
    it('starts the saga', () =>
      spec
        .given([])
        .when(cmd({ type: 'RequestRevocation', data: request }))
        .then([requested]));
    it('refuses a step', () =>
      spec
        .given([])
        .when(cmd({ type: 'CompleteStep', data: step('certificates-revoked') }))
        .thenThrows(CommandRejected));
  });
  describe('when requested', () => {
    it('a retried request changes nothing', () =>
      spec
        .given([requested])
        .when(cmd({ type: 'RequestRevocation', data: request }))
        .thenNothingHappened());
    it('records the certificates revoked', () =>
      spec
        .given([requested])
        .when(cmd({ type: 'CompleteStep', data: step('certificates-revoked') }))
        .then([completed('certificates-revoked')]));
    it('refuses a step out of order', () =>
      spec
        .given([requested])
        .when(cmd({ type: 'CompleteStep', data: step('crl-published') }))
        .thenThrows((e) => e instanceof CommandRejected && e.reason === 'step-out-of-order'));
  });
  describe('when the CRL is published', () => {
    it('records each target once, in any order', () =>
      spec
        .given([...upToCrl, completed('targets-crl-updated', { targetId: 'broker-a' })])
        .when(cmd({ type: 'CompleteStep', data: step('targets-deprovisioned', { targetId: 'broker-a' }) }))
        .then([completed('targets-deprovisioned', { targetId: 'broker-a' })]));
    it('does not repeat a target step', () =>
      spec
        .given(allTargets)
        .when(cmd({ type: 'CompleteStep', data: step('targets-deprovisioned', { targetId: 'broker-a' }) }))
        .thenNothingHappened());
    it('refuses to close the targets while one is pending', () =>
      spec
        .given([...upToCrl, completed('targets-deprovisioned', { targetId: 'broker-a' })])
        .when(cmd({ type: 'CompleteStep', data: step('targets-deprovisioned') }))
        .thenThrows((e) => e instanceof CommandRejected && e.reason === 'targets-pending'));
    it('closes the targets once all are done', () =>
      spec
        .given(allTargets)
        .when(cmd({ type: 'CompleteStep', data: step('targets-deprovisioned') }))
        .then([completed('targets-deprovisioned')]));
  });
  describe('when the registry marked the devices', () => {
    const marked = [...allTargets, completed('targets-deprovisioned'), completed('registry-updated')];
    it('completes with the time since the request', () =>
      spec
        .given([
          {
            ...requested,
            id: '00000000-0000-8000-8000-0000000000aa',
            aggregateId: revocationId,
            occurredAt: '2026-03-01T12:00:00.000Z',
            causationId: 'c',
            correlationId: 'c',
          },
          ...marked.slice(1),
        ] as never)
        .when(complete)
        .then([
          {
            type: 'RevocationCompleted',
            version: 1,
            data: { revocationId, devicesRevoked: 1, alreadyRevoked: 0, durationMs: 1500 },
          },
        ]));
    it('completes only once', () =>
      spec
        .given([
          ...marked,
          {
            type: 'RevocationCompleted',
            version: 1,
            data: { revocationId, devicesRevoked: 1, alreadyRevoked: 0, durationMs: 5 },
          },
        ])
        .when(complete)
        .thenNothingHappened());
  });
  it('cannot complete before the registry step', () =>
    spec.given(allTargets).when(complete).thenThrows(CommandRejected));
  it('evolve is idempotent: a step folded twice counts once', () => {
    const events = [requested, completed('certificates-revoked'), completed('certificates-revoked')].map((e, i) => ({
      ...e,
      id: `e${i}`,
      aggregateId: revocationId,
      occurredAt: now,
      causationId: 'c',
      correlationId: 'c',
    }));
    const state = events.reduce((s, e) => revocationDecider.evolve(s, e as never), revocationDecider.initialState());
    expect(state.status).toBe('CertificatesRevoked');
    expect(state.history.map((h) => h.step)).toEqual(['requested', 'certificates-revoked']);
  });
  describe('stalls and the deadline', () => {
    const stall = {
      revocationId,
      waitingFor: 'ca' as const,
      step: 'certificates-revoked' as const,
      since: now,
      stalledAfterMs: 60_000,
    };
    const escalation = {
      revocationId,
      waitingFor: 'ca' as const,
      step: 'certificates-revoked' as const,
      since: now,
      requestedAt: now,
      deadlineMs: 300_000,
    };
    const stalled = { type: 'RevocationStalled', version: 1, data: stall };
    const escalated = { type: 'RevocationEscalated', version: 1, data: escalation };
    it('refuses either for a revocation that does not exist', () =>
      spec
        .given([])
        .when(cmd({ type: 'RecordStall', data: stall }))
        .thenThrows((e) => e instanceof CommandRejected && e.reason === 'NOT_FOUND'));
    it('records a stall once per wait, and again once it moved and stalled anew', () => {
      spec
        .given([requested])
        .when(cmd({ type: 'RecordStall', data: stall }))
        .then([stalled]);
      spec
        .given([requested, stalled])
        .when(cmd({ type: 'RecordStall', data: stall }))
        .thenNothingHappened();
      const later = { ...stall, step: 'crl-published' as const, since: '2026-03-01T12:05:00.000Z' };
      spec
        .given([requested, stalled, completed('certificates-revoked')])
        .when(cmd({ type: 'RecordStall', data: later }))
        .then([{ type: 'RevocationStalled', version: 1, data: later }]);
    });
    it('escalates once, and neither alert follows a completion', () => {
      spec
        .given([requested, stalled])
        .when(cmd({ type: 'Escalate', data: escalation }))
        .then([escalated]);
      spec
        .given([requested, escalated])
        .when(cmd({ type: 'Escalate', data: escalation }))
        .thenNothingHappened();
      const done = [...allTargets, completed('targets-deprovisioned'), completed('registry-updated')];
      const finished = {
        type: 'RevocationCompleted',
        version: 1,
        data: { revocationId, devicesRevoked: 1, alreadyRevoked: 0, durationMs: 1 },
      };
      spec
        .given([...done, finished])
        .when(cmd({ type: 'Escalate', data: escalation }))
        .thenNothingHappened();
      spec
        .given([...done, finished])
        .when(cmd({ type: 'RecordStall', data: stall }))
        .thenNothingHappened();
    });
  });
});
