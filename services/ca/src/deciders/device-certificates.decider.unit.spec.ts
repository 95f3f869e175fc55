import { CommandRejected } from '@tunnelkey/eventstore';
import { deciderSpecification } from '@tunnelkey/testing';
import {
  deviceCertificatesDecider,
  type DeviceCertificateCommand,
  type IssuedCertificateData,
  type RejectionData,
} from './device-certificates.decider.js';

const deviceId = 'd-abcdefghijklmnopqrstuvwxyz234567';
const metadata = { commandId: 'issue-1', now: '2026-01-01T00:00:00.000Z' };
const certificate: IssuedCertificateData = {
  deviceId,
  requestId: 'req-1',
  authorityId: 'issuing-acme',
  serialNumber: '1f2e3d4c5b6a79880123456789abcdef',
  subject: `CN=${deviceId}`,
  issuer: 'CN=tunnelkey Issuing CA acme,OU=acme,O=tunnelkey',
  notBefore: '2026-01-01T00:00:00.000Z',
  notAfter: '2027-01-01T00:00:00.000Z',
  fingerprintSha256: 'c'.repeat(64),
  publicKeyDigest: 'd'.repeat(64),
  keyId: 'enrolment',
  certificatePem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  chainPem: ['-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'],
};
const rejection: RejectionData = {
  deviceId,
  requestId: 'req-1',
  reason: 'device-not-verified',
  detail: 'not verified',
};
const issue: DeviceCertificateCommand = { type: 'RecordIssuedCertificate', data: certificate, metadata };
const reject: DeviceCertificateCommand = { type: 'RecordRejection', data: rejection, metadata };
const issued = { type: 'CertificateIssued', version: 1, data: certificate };
const rejected = { type: 'CertificateRejected', version: 1, data: rejection };

const spec = deciderSpecification(deviceCertificatesDecider, { aggregateId: deviceId });

describe('device certificates decider', () => {
  describe('when the request is new', () => {
    it('records the certificate', () => spec.given([]).when(issue).then([issued]));
    it('records a refusal', () => spec.given([]).when(reject).then([rejected]));
  });
  describe('when the request was refused before', () => {
    it('issues once the device has become eligible', () => spec.given([rejected]).when(issue).then([issued]));
    it('does not record the same refusal twice', () => spec.given([rejected]).when(reject).thenNothingHappened());
    it('records a different refusal', () =>
      spec
        .given([rejected])
        .when({ ...reject, data: { ...rejection, reason: 'device-revoked' } })
        .then([{ ...rejected, data: { ...rejection, reason: 'device-revoked' } }]));
  });
  describe('when the request has a certificate', () => {
    it('a retry with the same key records nothing: the recorded certificate is the answer', () =>
      spec
        .given([issued])
        .when({ ...issue, data: { ...certificate, serialNumber: 'abcdef' } })
        .thenNothingHappened());
    it('refuses the same request id for another key', () =>
      spec
        .given([issued])
        .when({ ...issue, data: { ...certificate, publicKeyDigest: 'e'.repeat(64) } })
        .thenThrows((e) => e instanceof CommandRejected && e.reason === 'request-id-reused'));
    it('a late refusal (e.g. a replayed copy) does not override it', () =>
      spec.given([issued]).when(reject).thenNothingHappened());
    it('another request id gets its own certificate (renewal)', () =>
      spec
        .given([issued])
        .when({ ...issue, data: { ...certificate, requestId: 'req-2' } })
        .then([{ ...issued, data: { ...certificate, requestId: 'req-2' } }]));
  });
  describe('when a revocation reached the CA', () => {
    const certificationRevoked = {
      type: 'CertificationRevoked',
      version: 1,
      data: { deviceId, revocationId: 'rv-1', reason: 'keyCompromise', revokedAt: '2026-01-02T00:00:00.000Z' },
    };
    const certificateRevoked = {
      type: 'CertificateRevoked',
      version: 1,
      data: {
        deviceId,
        authorityId: 'issuing-acme',
        serialNumber: certificate.serialNumber,
        reason: 'keyCompromise',
        revokedAt: '2026-01-02T00:00:00.000Z',
        revocationId: 'rv-1',
      },
    };
    const refusedAsRevoked = (e: unknown) => e instanceof CommandRejected && e.reason === 'device-revoked';
    it('refuses a new certificate (device-revoked), though the device never had one', () =>
      spec.given([certificationRevoked]).when(issue).thenThrows(refusedAsRevoked));
    it('refuses a retry of a request certified before it: that certificate is revoked, it is not handed out', () =>
      spec.given([issued, certificationRevoked, certificateRevoked]).when(issue).thenThrows(refusedAsRevoked));
    it('refuses a new request after certificates were revoked, in a log older than CertificationRevoked', () =>
      spec
        .given([issued, certificateRevoked])
        .when({ ...issue, data: { ...certificate, requestId: 'req-2' } })
        .thenThrows(refusedAsRevoked));
    it('still records the refusal of a request', () =>
      spec
        .given([certificationRevoked])
        .when({ ...reject, data: { ...rejection, reason: 'device-revoked' } })
        .then([{ ...rejected, data: { ...rejection, reason: 'device-revoked' } }]));
  });
});
