import { CommandRejected } from '@tunnelkey/eventstore';
import { deciderSpecification } from '@tunnelkey/testing';
import type { IssuedCertificateData } from '../deciders/device-certificates.decider.js';
import { revocationAppliedDecider } from './revocation-applied.decider.js';
import { revokeCertificatesDecider, type RevokeCertificatesCommand } from './revoke-certificates.decider.js';

const deviceId = 'd-revoked-1';
const now = '2026-03-01T12:00:00.000Z';
const certificate = (requestId: string, serialNumber: string, authorityId = 'issuing-acme'): IssuedCertificateData => ({
  deviceId,
  requestId,
  authorityId,
  serialNumber,
  subject: `CN=${deviceId}`,
  issuer: 'CN=tunnelkey Issuing CA acme',
  notBefore: '2026-01-01T00:00:00.000Z',
  notAfter: '2027-01-01T00:00:00.000Z',
  fingerprintSha256: 'c'.repeat(64),
  publicKeyDigest: 'd'.repeat(64),
  keyId: 'enrolment',
  certificatePem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  chainPem: ['-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'],
});
const issued = (data: IssuedCertificateData) => ({ type: 'CertificateIssued', version: 1, data });
const revoke = (
  revocationId = 'rv-1',
  reason: Extract<RevokeCertificatesCommand, { type: 'RevokeCertificates' }>['data']['reason'] = 'keyCompromise',
): RevokeCertificatesCommand => ({
  type: 'RevokeCertificates',
  data: { deviceId, revocationId, reason },
  metadata: { commandId: `revoke-${revocationId}`, now },
});
const revoked = (serialNumber: string, revocationId = 'rv-1', authorityId = 'issuing-acme') => ({
  type: 'CertificateRevoked',
  version: 1,
  data: { deviceId, authorityId, serialNumber, reason: 'keyCompromise', revokedAt: now, revocationId },
});

const certificationRevoked = (revocationId = 'rv-1') => ({
  type: 'CertificationRevoked',
  version: 1,
  data: { deviceId, revocationId, reason: 'keyCompromise', revokedAt: now },
});

const spec = deciderSpecification(revokeCertificatesDecider, { aggregateId: deviceId });

describe('revoke certificates decider', () => {
  describe('when the device was never certified', () => {
    it('records only that the device is certified no more', () =>
      spec.given([]).when(revoke()).then([certificationRevoked()]));
  });
  describe('when the device holds certificates', () => {
    it('records the device certified no more, then revokes each serial once, under its own authority, at the command time', () =>
      spec
        .given([
          issued(certificate('r1', '0a01')),
          issued(certificate('r2', '0a02', 'issuing-other')),
          issued(certificate('r1', '0a01')),
        ])
        .when(revoke())
        .then([certificationRevoked(), revoked('0a01'), revoked('0a02', 'rv-1', 'issuing-other')]));
    it('refuses removeFromCRL, which revokes nothing', () =>
      spec
        .given([issued(certificate('r1', '0a01'))])
        .when(revoke('rv-1', 'removeFromCRL' as never))
        .thenThrows(CommandRejected));
  });
  describe('when the device was revoked before', () => {
    it('adds no second CRL entry and no second record', () =>
      spec
        .given([issued(certificate('r1', '0a01')), certificationRevoked(), revoked('0a01')])
        .when(revoke('rv-2'))
        .thenNothingHappened());
    it('adds no second CRL entry (a log older than CertificationRevoked)', () =>
      spec
        .given([issued(certificate('r1', '0a01')), revoked('0a01')])
        .when(revoke('rv-2'))
        .thenNothingHappened());
    it('revokes only a certificate issued after the earlier revocation', () =>
      spec
        .given([issued(certificate('r1', '0a01')), revoked('0a01'), issued(certificate('r2', '0a02'))])
        .when(revoke('rv-2'))
        .then([revoked('0a02', 'rv-2')]));
  });
});

describe('when the device is transferred to another owner (RevokeTransferredCertificates)', () => {
  const transfer: RevokeCertificatesCommand = {
    type: 'RevokeTransferredCertificates',
    data: { deviceId, transferId: 't-1', ownerEpoch: 1 },
    metadata: { commandId: 'transfer-t-1', now },
  };
  const transferred = (serialNumber: string) => ({
    type: 'CertificateRevoked',
    version: 1,
    data: {
      deviceId,
      authorityId: 'issuing-acme',
      serialNumber,
      reason: 'affiliationChanged',
      revokedAt: now,
      revocationId: 't-1',
    },
  });
  const ofKey = (requestId: string, serialNumber: string, keyId: string) => ({
    ...certificate(requestId, serialNumber),
    keyId,
  });
  it("revokes the old owner's certificates as affiliationChanged, without refusing further certificates", () =>
    spec
      .given([issued(ofKey('r1', '0a01', 'tls-0')), issued(ofKey('r2', '0a02', 'tls-1'))])
      .when(transfer)
      .then([transferred('0a01'), transferred('0a02')]));
  it("leaves the new owner's certificates (keys of the new epoch) alone: a redelivery after re-certification", () =>
    spec
      .given([issued(ofKey('r1', '0a01', 'tls-0')), transferred('0a01'), issued(ofKey('r3', '0a03', 'tls-1-0'))])
      .when(transfer)
      .thenNothingHappened());
});

describe('revocation applied decider', () => {
  const applied = {
    revocationId: 'rv-1',
    devices: 2,
    certificatesRevoked: 2,
    alreadyRevoked: 0,
    crls: [{ authorityId: 'issuing-acme', crlNumber: 3, crlDigest: 'a'.repeat(64) }],
  };
  const record = {
    type: 'RecordRevocationApplied' as const,
    data: applied,
    metadata: { commandId: 'applied-rv-1', now },
  };
  const applySpec = deciderSpecification(revocationAppliedDecider, { aggregateId: 'rv-1' });
  it('records the outcome once', () =>
    applySpec
      .given([])
      .when(record)
      .then([{ type: 'RevocationApplied', version: 1, data: applied }]));
  it('a redelivered revocation changes nothing', () =>
    applySpec
      .given([{ type: 'RevocationApplied', version: 1, data: applied }])
      .when(record)
      .thenNothingHappened());
});
