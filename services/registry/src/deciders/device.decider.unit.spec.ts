import { CommandRejected } from '@tunnelkey/eventstore';
import { deciderSpecification } from '@tunnelkey/testing';
import { deviceDecider, type DeviceCommand } from './device.decider.js';

const deviceId = 'd-aaaabbbbccccddddeeeeffffgggghhhh';
const digest = 'a'.repeat(64);
const otherDigest = 'b'.repeat(64);
const key = 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE';
const at = (now: string) => ({ commandId: 'cmd-1', now });
const metadata = at('2026-01-01T00:00:00.000Z');
const rejectedWith = (reason: string) => (error: unknown) =>
  error instanceof CommandRejected && error.reason === reason;
const spec = deciderSpecification(deviceDecider, { aggregateId: deviceId });

const announcedData = {
  deviceId,
  enrolmentPublicKey: key,
  enrolmentKeyDigest: digest,
  firmwareMeasurement: 'f'.repeat(64),
};
const importedData = {
  deviceId,
  batchId: 'fridges',
  importId: 'file-1',
  source: 'json' as const,
  enrolmentPublicKey: key,
  enrolmentKeyDigest: digest,
};
const reportedData = {
  deviceId,
  requestId: 'ask-1',
  batchId: 'fridges',
  enrolmentPublicKey: key,
  enrolmentKeyDigest: digest,
  firmwareMeasurement: 'f'.repeat(64),
};
const challengeData = {
  deviceId,
  challengeId: 'c-1',
  nonceDigest: 'c'.repeat(64),
  expiresAt: '2026-01-01T00:05:00.000Z',
};
const certifiedData = {
  deviceId,
  authorityId: 'issuing-acme',
  serialNumber: '0a1b',
  fingerprintSha256: 'e'.repeat(64),
  notAfter: '2027-01-01T00:00:00.000Z',
};

const announced = { type: 'DeviceAnnounced', version: 1, data: announcedData };
const imported = { type: 'DeviceIdentityImported', version: 1, data: importedData };
const challenged = { type: 'IdentityChallengeIssued', version: 1, data: challengeData };
const verified = {
  type: 'IdentityVerified',
  version: 1,
  data: { deviceId, challengeId: 'c-1', nonceDigest: challengeData.nonceDigest, enrolmentKeyDigest: digest },
};
const certified = { type: 'DeviceCertified', version: 1, data: certifiedData };
const revoked = {
  type: 'DeviceRevoked',
  version: 1,
  data: { deviceId, revocationId: 'r-1', reason: 'keyCompromise', revokedAt: '2026-01-02T00:00:00.000Z' },
};
const failed = (reason: string) => ({
  type: 'IdentityVerificationFailed',
  version: 1,
  data: { deviceId, challengeId: 'c-1', nonceDigest: challengeData.nonceDigest, reason },
});

const announce: DeviceCommand = { type: 'AnnounceDevice', data: announcedData, metadata };
const importInto = (batchId: string, enrolmentKeyDigest = digest): DeviceCommand => ({
  type: 'ImportDeviceIdentity',
  data: { ...importedData, batchId, enrolmentKeyDigest },
  metadata,
});
const report: DeviceCommand = { type: 'RecordEnrolmentKeyReport', data: reportedData, metadata };
const challenge: DeviceCommand = { type: 'IssueIdentityChallenge', data: challengeData, metadata };
const respond = (
  overrides: Partial<{ nonceDigest: string; enrolmentKeyDigest: string; challengeId: string }> = {},
  now = metadata.now,
): DeviceCommand => ({
  type: 'CheckIdentityResponse',
  data: {
    deviceId,
    challengeId: 'c-1',
    nonceDigest: challengeData.nonceDigest,
    enrolmentKeyDigest: digest,
    ...overrides,
  },
  metadata: at(now),
});
const forged: DeviceCommand = {
  type: 'RecordVerificationFailure',
  data: { deviceId, challengeId: 'c-1', reason: 'bad-signature' },
  metadata,
};
const certify: DeviceCommand = { type: 'RecordCertificate', data: certifiedData, metadata };

describe('device decider', () => {
  describe('when unknown', () => {
    it('records an announcement', () => spec.given([]).when(announce).then([announced]));
    it('imports its identity into a batch', () => spec.given([]).when(importInto('fridges')).then([imported]));
    it('records a reported enrolment key (the device joins the batch)', () =>
      spec
        .given([])
        .when(report)
        .then([{ type: 'EnrolmentKeyReported', version: 1, data: reportedData }]));
    it('cannot be challenged or certified', () => {
      spec.given([]).when(challenge).thenThrows(rejectedWith('unknown-device'));
      spec.given([]).when(certify).thenThrows(rejectedWith('unknown-device'));
    });
  });

  describe('when announced', () => {
    it('ignores a repeated announcement', () => spec.given([announced]).when(announce).thenNothingHappened());
    it('imports it with the same key and refuses another key', () => {
      spec.given([announced]).when(importInto('fridges')).then([imported]);
      spec.given([announced]).when(importInto('fridges', otherDigest)).thenThrows(rejectedWith('key-conflict'));
    });
    it('is not challenged before it is in a batch', () =>
      spec.given([announced]).when(challenge).thenThrows(rejectedWith('not-imported')));
  });

  describe('when imported', () => {
    it('treats re-importing into the same batch as a retry and refuses another batch', () => {
      spec.given([imported]).when(importInto('fridges')).thenNothingHappened();
      spec.given([imported]).when(importInto('freezers')).thenThrows(rejectedWith('in-other-batch'));
    });
    it('issues a challenge, once per challenge id', () => {
      spec.given([imported]).when(challenge).then([challenged]);
      spec.given([imported, challenged]).when(challenge).thenNothingHappened();
    });
    it('re-issues a pending challenge under a new id (after a restart), never one answered or closed meanwhile', () => {
      const reissued = { ...challengeData, challengeId: 'c-2', nonceDigest: 'e'.repeat(64) };
      const reissue: DeviceCommand = {
        type: 'IssueIdentityChallenge',
        data: { ...reissued, replaces: 'c-1' },
        metadata,
      };
      spec
        .given([imported, challenged])
        .when(reissue)
        .then([{ type: 'IdentityChallengeIssued', version: 1, data: reissued }]);
      spec.given([imported, challenged, verified]).when(reissue).thenNothingHappened();
      spec.given([imported]).when(reissue).thenNothingHappened();
      spec
        .given([imported, challenged, failed('no-response')])
        .when(reissue)
        .thenNothingHappened();
    });
    it('verifies a response to the pending challenge', () =>
      spec.given([imported, challenged]).when(respond()).then([verified]));
    it('fails a response with the wrong nonce or too late, and refuses one for an unknown challenge', () => {
      spec
        .given([imported, challenged])
        .when(respond({ nonceDigest: 'd'.repeat(64) }))
        .then([failed('nonce-mismatch')]);
      spec
        .given([imported, challenged])
        .when(respond({}, '2026-01-01T00:06:00.000Z'))
        .then([failed('expired')]);
      spec
        .given([imported, challenged])
        .when(respond({ challengeId: 'c-2' }))
        .thenThrows(rejectedWith('unknown-challenge'));
      spec.given([imported]).when(respond()).thenThrows(rejectedWith('unknown-challenge'));
    });
    it('records a forged response once and keeps the challenge open for the genuine one', () => {
      spec
        .given([imported, challenged])
        .when(forged)
        .then([failed('bad-signature')]);
      spec
        .given([imported, challenged, failed('bad-signature')])
        .when(forged)
        .thenNothingHappened();
      spec
        .given([imported, challenged, failed('bad-signature')])
        .when(respond())
        .then([verified]);
    });
    it('records no-response for an unanswered challenge and closes it', () => {
      const unanswered: DeviceCommand = {
        type: 'RecordVerificationFailure',
        data: { deviceId, challengeId: 'c-1', reason: 'no-response' },
        metadata,
      };
      spec
        .given([imported, challenged])
        .when(unanswered)
        .then([failed('no-response')]);
      spec
        .given([imported, challenged, failed('no-response')])
        .when(respond())
        .thenThrows(rejectedWith('unknown-challenge'));
    });
    it('closes the challenge after a nonce mismatch', () => {
      spec
        .given([imported, challenged, failed('nonce-mismatch')])
        .when(respond())
        .thenThrows(rejectedWith('unknown-challenge'));
    });
  });

  describe('when verified', () => {
    it('ignores a replayed response and a forgery: no challenge is pending', () => {
      spec.given([imported, challenged, verified]).when(respond()).thenThrows(rejectedWith('unknown-challenge'));
      spec.given([imported, challenged, verified]).when(forged).thenNothingHappened();
    });
    it('records its certificate, once per serial number', () => {
      spec.given([imported, challenged, verified]).when(certify).then([certified]);
      spec.given([imported, challenged, verified, certified]).when(certify).thenNothingHappened();
    });
  });

  describe('when certified', () => {
    it('can be verified again and stays certified', () => {
      const state = [imported, challenged, verified, certified, challenged].reduce(
        (s, e, i) =>
          deviceDecider.evolve(s, {
            ...e,
            id: `00000000-0000-8000-8000-00000000000${i}`,
            aggregateId: deviceId,
            occurredAt: metadata.now,
            causationId: 'x',
            correlationId: 'x',
          } as never),
        deviceDecider.initialState(),
      );
      expect(state.status).toBe('Certified');
      spec.given([imported, challenged, verified, certified, challenged]).when(respond()).then([verified]);
    });

    it('records a renewed certificate, keeping the one it replaced as the previous one', () => {
      const renewedData = { ...certifiedData, serialNumber: 'beef02', notAfter: '2031-01-01T00:00:00.000Z' };
      const renewed = { type: 'DeviceCertified', version: 1, data: renewedData };
      spec
        .given([imported, challenged, verified, certified])
        .when({ ...certify, data: renewedData })
        .then([renewed]);
      const state = [imported, challenged, verified, certified, renewed].reduce(
        (s, e, i) =>
          deviceDecider.evolve(s, {
            ...e,
            id: `00000000-0000-8000-8000-00000000001${i}`,
            aggregateId: deviceId,
            occurredAt: metadata.now,
            causationId: 'x',
            correlationId: 'x',
          } as never),
        deviceDecider.initialState(),
      );
      expect(state).toMatchObject({
        status: 'Certified',
        certificate: { serialNumber: 'beef02' },
        previousCertificate: { serialNumber: certifiedData.serialNumber },
      });
    });
  });

  describe('when revoked', () => {
    it('refuses every change', () => {
      for (const command of [announce, importInto('fridges'), report, challenge, certify]) {
        spec.given([imported, revoked]).when(command).thenThrows(rejectedWith('device-revoked'));
      }
    });
  });
});
