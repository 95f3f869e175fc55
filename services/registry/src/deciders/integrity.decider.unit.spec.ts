import { deciderSpecification } from '@tunnelkey/testing';
import { integrityDecider, type IntegrityViolation } from './integrity.decider.js';

const metadata = { commandId: 'cmd-1', now: '2026-01-01T00:00:30.000Z' };
const deviceId = 'd-7f3a';
const mismatch = (action: IntegrityViolation['action'], violationId = 'v-1'): IntegrityViolation => ({
  deviceId,
  violationId,
  kind: 'measurement-mismatch',
  action,
  expectedMeasurement: 'a'.repeat(64),
  observedMeasurement: 'b'.repeat(64),
  counter: 12,
  heartbeatAt: '2026-01-01T00:00:29.900Z',
});
const silence = (heartbeatAt: string, violationId = 'v-s'): IntegrityViolation => ({
  deviceId,
  violationId,
  kind: 'heartbeat-missing',
  action: 'alert',
  heartbeatAt,
});
const record = (data: IntegrityViolation) => ({ type: 'RecordViolation' as const, data, metadata });
const release = { type: 'ReleaseQuarantine' as const, data: { deviceId, releasedBy: 'alice' }, metadata };
const detected = (data: IntegrityViolation) => ({ type: 'IntegrityViolationDetected', version: 1, data });
const quarantined = (violationId: string) => ({
  type: 'DeviceQuarantined',
  version: 1,
  data: { deviceId, violationId },
});
const released = { type: 'DeviceQuarantineReleased', version: 1, data: { deviceId, releasedBy: 'alice' } };
const spec = deciderSpecification(integrityDecider, { aggregateId: deviceId });

describe('integrity decider', () => {
  describe('when monitored', () => {
    it('records a violation whose policy only alerts', () =>
      spec
        .given([])
        .when(record(mismatch('alert')))
        .then([detected(mismatch('alert'))]));

    it('quarantines on a violation whose policy quarantines', () =>
      spec
        .given([])
        .when(record(mismatch('quarantine')))
        .then([detected(mismatch('quarantine')), quarantined('v-1')]));

    it('records a silence once, however often it is found', () =>
      spec
        .given([detected(silence('2026-01-01T00:00:00.000Z'))])
        .when(record(silence('2026-01-01T00:00:00.000Z', 'v-s2')))
        .then([]));

    it('records a new silence after the device spoke again', () =>
      spec
        .given([detected(silence('2026-01-01T00:00:00.000Z'))])
        .when(record(silence('2026-01-01T00:05:00.000Z', 'v-s2')))
        .then([detected(silence('2026-01-01T00:05:00.000Z', 'v-s2'))]));

    it('has nothing to release', () => spec.given([]).when(release).then([]));

    it('records a clone once, however many of its heartbeats arrive', () =>
      spec
        .given([detected({ ...mismatch('alert'), kind: 'counter-regression' })])
        .when(record({ ...mismatch('alert', 'v-2'), kind: 'counter-regression' }))
        .then([]));

    it('records the same tampered measurement once', () =>
      spec
        .given([detected(mismatch('alert'))])
        .when(record(mismatch('alert', 'v-2')))
        .then([]));
  });

  describe('when quarantined', () => {
    const given = [detected(mismatch('quarantine')), quarantined('v-1')];

    it('records a further violation without quarantining twice', () =>
      spec
        .given(given)
        .when(record({ ...mismatch('quarantine', 'v-2'), kind: 'counter-regression' }))
        .then([detected({ ...mismatch('quarantine', 'v-2'), kind: 'counter-regression' })]));

    it('is released by an operator', () => spec.given(given).when(release).then([released]));

    it('records the same mismatch again once released', () =>
      spec
        .given([...given, released])
        .when(record(mismatch('quarantine', 'v-3')))
        .then([detected(mismatch('quarantine', 'v-3')), quarantined('v-3')]));

    it('can be quarantined again once released', () =>
      spec
        .given([...given, released])
        .when(record({ ...silence('2026-01-01T00:01:00.000Z', 'v-4'), action: 'quarantine' }))
        .then([detected({ ...silence('2026-01-01T00:01:00.000Z', 'v-4'), action: 'quarantine' }), quarantined('v-4')]));
  });
});
