import { CommandRejected } from '@tunnelkey/eventstore';
import { deciderSpecification } from '@tunnelkey/testing';
import { revokeDeviceDecider, type RevokeDeviceCommand } from './revoke-device.decider.js';

const deviceId = 'd-1';
const imported = {
  type: 'DeviceIdentityImported',
  version: 1,
  data: {
    deviceId,
    batchId: 'b-1',
    importId: 'i-1',
    source: 'json',
    enrolmentPublicKey: 'AAAA',
    enrolmentKeyDigest: 'a'.repeat(64),
  },
};
const revocation = {
  deviceId,
  revocationId: 'rv-1',
  reason: 'keyCompromise' as const,
  revokedAt: '2026-03-01T12:00:00.000Z',
};
const revoke = (data = revocation): RevokeDeviceCommand => ({
  type: 'RevokeDevice',
  data,
  metadata: { commandId: `revoke-${data.revocationId}`, now: data.revokedAt },
});
const revoked = (data = revocation) => ({ type: 'DeviceRevoked', version: 1, data });
const spec = deciderSpecification(revokeDeviceDecider, { aggregateId: deviceId });

describe('revoke device decider (registry)', () => {
  describe('when the device is unknown', () => {
    it('refuses', () =>
      spec
        .given([])
        .when(revoke())
        .thenThrows((e) => e instanceof CommandRejected && e.reason === 'unknown-device'));
  });
  describe('when the device is imported', () => {
    it('marks it revoked with the revocation, its reason and date', () =>
      spec.given([imported]).when(revoke()).then([revoked()]));
  });
  describe('when the device is revoked', () => {
    it('changes nothing, even for another revocation', () =>
      spec
        .given([imported, revoked()])
        .when(revoke({ ...revocation, revocationId: 'rv-2' }))
        .thenNothingHappened());
  });
});
