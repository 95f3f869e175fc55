import { isCommandRejected } from '@tunnelkey/eventstore';
import { deciderSpecification } from '@tunnelkey/testing';
import {
  renewalDecider,
  type RenewalCommand,
  type RenewalCompletedData,
  type RenewalRequestData,
  type RenewedData,
} from './renewal.decider.js';

const metadata = { commandId: 'cmd-1', now: '2026-01-01T00:00:00.000Z' };
const ids = { renewalId: 'rn-1', deviceId: 'd-1', operationId: 'op-1' };
const requested: RenewalRequestData = {
  ...ids,
  reason: 'operator',
  requestId: 'r-1',
  keyId: 'tls-1',
  previous: { authorityId: 'ca-1', serialNumber: 'aa01', keyId: 'tls-0', notAfter: '2026-02-01T00:00:00.000Z' },
  expiresAt: '2026-01-01T01:00:00.000Z',
};
const renewed: RenewedData = {
  ...ids,
  reason: 'operator',
  requestId: 'r-1',
  authorityId: 'ca-1',
  serialNumber: 'bb02',
  keyId: 'tls-1',
  fingerprintSha256: 'f'.repeat(64),
  notBefore: '2026-01-01T00:00:10.000Z',
  notAfter: '2026-02-01T00:00:10.000Z',
  previous: requested.previous,
};
const completed: RenewalCompletedData = {
  ...ids,
  serialNumber: 'bb02',
  targetId: 't-1',
  switchedAt: '2026-01-01T00:00:20.000Z',
  revokedPrevious: { authorityId: 'ca-1', serialNumber: 'aa01', revokedAt: '2026-01-01T00:00:20.000Z' },
};

const request: RenewalCommand = { type: 'RequestRenewal', data: requested, metadata };
const renew: RenewalCommand = { type: 'RecordRenewed', data: renewed, metadata };
const switched: RenewalCommand = { type: 'RecordSwitch', data: completed, metadata };
const expire: RenewalCommand = { type: 'RecordExpiry', data: ids, metadata };

const e = {
  requested: { type: 'CertificateRenewalRequested', version: 1, data: requested },
  renewed: { type: 'DeviceCertificateRenewed', version: 1, data: renewed },
  completed: { type: 'CertificateRenewalCompleted', version: 1, data: completed },
  expiredCsr: { type: 'CertificateRenewalExpired', version: 1, data: { ...ids, stage: 'csr' } },
  expiredSwitch: { type: 'CertificateRenewalExpired', version: 1, data: { ...ids, stage: 'switch' } },
};

const spec = deciderSpecification(renewalDecider, { aggregateId: 'rn-1' });
const rejected = (reason: string) => (error: unknown) => isCommandRejected(error) && error.reason === reason;

describe('renewal decider (rotate, then revoke)', () => {
  describe('when nothing is recorded', () => {
    it('records the request', () => spec.given([]).when(request).then([e.requested]));
    it('refuses a certificate for an unknown renewal', () =>
      spec.given([]).when(renew).thenThrows(rejected('unknown-renewal')));
    it('refuses a switch for an unknown renewal', () =>
      spec.given([]).when(switched).thenThrows(rejected('unknown-renewal')));
    it('has nothing to expire', () => spec.given([]).when(expire).thenNothingHappened());
  });

  describe('when requested', () => {
    it('records the request once (a retried command)', () =>
      spec.given([e.requested]).when(request).thenNothingHappened());
    it('records the new certificate: the device now holds two valid ones', () =>
      spec.given([e.requested]).when(renew).then([e.renewed]));
    it('refuses a certificate that answers another CSR request', () =>
      spec
        .given([e.requested])
        .when({ ...renew, data: { ...renewed, requestId: 'r-other' } })
        .thenThrows(rejected('not-this-renewal')));
    it('refuses a switch before the new certificate exists: the old one is never revoked first', () =>
      spec.given([e.requested]).when(switched).thenThrows(rejected('not-renewed-yet')));
    it('expires at the CSR stage', () => spec.given([e.requested]).when(expire).then([e.expiredCsr]));
  });

  describe('when renewed', () => {
    const given = [e.requested, e.renewed];
    it('matches its certificate exactly once', () => spec.given(given).when(renew).thenNothingHappened());
    it('refuses a second, different certificate', () =>
      spec
        .given(given)
        .when({ ...renew, data: { ...renewed, serialNumber: 'cc03' } })
        .thenThrows(rejected('already-renewed')));
    it('completes on the device reporting the new certificate, revoking the previous one', () =>
      spec.given(given).when(switched).then([e.completed]));
    it('refuses a report naming another certificate (the old one stays valid)', () =>
      spec
        .given(given)
        .when({ ...switched, data: { ...completed, serialNumber: 'aa01' } })
        .thenThrows(rejected('not-renewed-certificate')));
    it('expires at the switch stage', () => spec.given(given).when(expire).then([e.expiredSwitch]));
  });

  describe('when completed', () => {
    const given = [e.requested, e.renewed, e.completed];
    it('completes once (a repeated report)', () => spec.given(given).when(switched).thenNothingHappened());
    it('no longer expires', () => spec.given(given).when(expire).thenNothingHappened());
  });

  describe('when expired', () => {
    it('refuses a late certificate', () =>
      spec.given([e.requested, e.expiredCsr]).when(renew).thenThrows(rejected('renewal-expired')));
    it('refuses a late switch', () =>
      spec.given([e.requested, e.renewed, e.expiredSwitch]).when(switched).thenThrows(rejected('renewal-expired')));
    it('is not requested again under the same id', () =>
      spec.given([e.requested, e.expiredCsr]).when(request).thenNothingHappened());
  });
});
