import type { EventEnvelope } from '@tunnelkey/contracts';
import { RevocationStatusState } from '../views/revocation-status.view.js';
import { nextStep } from './next-step.js';

const revocationId = 'rv-1';
let sequence = 0;
const event = (type: string, aggregateId: string, data: object): EventEnvelope => ({
  type,
  version: type === 'DeviceConnected' ? 2 : 1,
  id: `00000000-0000-8000-8000-${String(++sequence).padStart(12, '0')}`,
  aggregateId,
  occurredAt: '2026-03-01T12:00:00.000Z',
  causationId: 'c',
  correlationId: 'c',
  data,
});

function facts(...events: EventEnvelope[]): RevocationStatusState {
  const f = new RevocationStatusState();
  events.forEach((e) => f.fold(e));
  return f;
}

const requested = event('RevocationRequested', revocationId, {
  revocationId,
  scope: 'batch',
  batchId: 'b-1',
  deviceIds: ['d-1', 'd-2'],
  reason: 'keyCompromise',
});
const applied = event('RevocationApplied', revocationId, {
  revocationId,
  devices: 2,
  certificatesRevoked: 2,
  alreadyRevoked: 0,
  crls: [{ authorityId: 'issuing-acme', crlNumber: 4, crlDigest: 'a'.repeat(64) }],
});
const step = (s: string, extra: object = {}) =>
  event('RevocationStepCompleted', revocationId, { revocationId, step: s, devices: 2, ...extra });
const onboarded = (deviceId: string, targetId: string) =>
  event('DeviceOnboarded', deviceId, {
    deviceId,
    targetId,
    batchId: 'b-1',
    policyId: 'p',
    clientId: deviceId,
    roleName: 'r',
    topicPrefix: `devices/${deviceId}`,
  });
const deprovisioned = (deviceId: string, targetId: string) =>
  event('DeviceDeprovisioned', deviceId, { deviceId, targetId, reason: 'revoked', revocationId });
const crlUpdated = (crlNumber: number, authorityId = 'issuing-acme') =>
  event('TargetCrlUpdated', 'broker-a', {
    targetId: 'broker-a',
    authorityId,
    crlNumber,
    crlDigest: 'c'.repeat(64),
  });
const revokedInRegistry = (deviceId: string) =>
  event('DeviceRevoked', deviceId, {
    deviceId,
    revocationId,
    reason: 'keyCompromise',
    revokedAt: '2026-03-01T12:00:00.000Z',
  });
const next = (f: RevocationStatusState) => nextStep(f.revocation(revocationId), f);

describe('the saga process manager (next step from the view)', () => {
  it('waits for the CA, then records certificates revoked and the CRL published with its number', () => {
    expect(next(facts(requested))).toBeUndefined();
    expect(next(facts(requested, applied))).toEqual({
      type: 'CompleteStep',
      data: { revocationId, step: 'certificates-revoked', devices: 2 },
    });
    expect(next(facts(requested, applied, step('certificates-revoked')))).toEqual({
      type: 'CompleteStep',
      data: { revocationId, step: 'crl-published', devices: 2, crlNumber: 4 },
    });
  });

  it('with devices onboarded nowhere, closes the target steps at once', () => {
    expect(next(facts(requested, applied, step('certificates-revoked'), step('crl-published')))).toEqual({
      type: 'CompleteStep',
      data: { revocationId, step: 'targets-deprovisioned', devices: 2 },
    });
  });

  describe('with devices onboarded to a broker', () => {
    const base = [
      onboarded('d-1', 'broker-a'),
      onboarded('d-2', 'broker-a'),
      requested,
      applied,
      step('certificates-revoked'),
      step('crl-published', { crlNumber: 4 }),
    ];
    it('waits until every device is disabled there and the broker enforces the new CRL', () => {
      expect(next(facts(...base, deprovisioned('d-1', 'broker-a'), crlUpdated(3)))).toBeUndefined();
      expect(next(facts(...base, deprovisioned('d-1', 'broker-a'), deprovisioned('d-2', 'broker-a')))).toEqual({
        type: 'CompleteStep',
        data: { revocationId, step: 'targets-deprovisioned', targetId: 'broker-a', devices: 2 },
      });
      const disabled = [
        ...base,
        deprovisioned('d-1', 'broker-a'),
        deprovisioned('d-2', 'broker-a'),
        step('targets-deprovisioned', { targetId: 'broker-a' }),
      ];
      expect(next(facts(...disabled, crlUpdated(3)))).toBeUndefined();
      // The broker's own CA's CRL is not the CA's: it says nothing of CRL 4's revocations.
      expect(next(facts(...disabled, crlUpdated(4, 'tca-broker-a')))).toBeUndefined();
      expect(next(facts(...disabled, crlUpdated(4)))).toEqual({
        type: 'CompleteStep',
        data: { revocationId, step: 'targets-crl-updated', targetId: 'broker-a', devices: 2 },
      });
      expect(next(facts(...disabled, crlUpdated(4), step('targets-crl-updated', { targetId: 'broker-a' })))).toEqual({
        type: 'CompleteStep',
        data: { revocationId, step: 'targets-deprovisioned', devices: 2 },
      });
    });
  });

  it('records the registry step once every device is Revoked there, then completes', () => {
    const closed = [
      requested,
      applied,
      step('certificates-revoked'),
      step('crl-published'),
      step('targets-deprovisioned'),
    ];
    expect(next(facts(...closed, revokedInRegistry('d-1')))).toBeUndefined();
    expect(next(facts(...closed, revokedInRegistry('d-1'), revokedInRegistry('d-2')))).toEqual({
      type: 'CompleteStep',
      data: { revocationId, step: 'registry-updated', devices: 2 },
    });
    expect(next(facts(...closed, step('registry-updated')))).toEqual({
      type: 'CompleteRevocation',
      data: { revocationId, devicesRevoked: 2, alreadyRevoked: 0 },
    });
  });
});
