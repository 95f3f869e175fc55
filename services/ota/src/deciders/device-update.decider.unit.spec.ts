import { CommandRejected } from '@tunnelkey/eventstore';
import { deciderSpecification } from '@tunnelkey/testing';
import { deviceUpdateDecider, type DeviceUpdateCommand } from './device-update.decider.js';

const at = (now: string) => ({ commandId: 'c-1', now });
const deviceId = 'd-1';
const digest = 'ab'.repeat(32);
const oldDigest = 'cd'.repeat(32);
const offer = {
  deviceId,
  rolloutId: 'r-1',
  firmwareId: 'fw-2',
  version: '2.0.0',
  wave: 0,
  imageDigest: digest,
  deadline: '2026-12-01T00:10:00.000Z',
};
const offered = { type: 'DeviceUpdateOffered', version: 1, data: offer };
const command = <T extends DeviceUpdateCommand['type']>(
  type: T,
  data: Extract<DeviceUpdateCommand, { type: T }>['data'],
  now = '2026-12-01T00:01:00.000Z',
) => ({ type, data, metadata: at(now) }) as DeviceUpdateCommand;
const ids = { deviceId, rolloutId: 'r-1', firmwareId: 'fw-2' };
const spec = deciderSpecification(deviceUpdateDecider);

describe('device update decider', () => {
  describe('when not offered', () => {
    test('an offer is recorded', () => {
      spec.given([]).when(command('OfferUpdate', offer)).then([offered]);
    });
    test('a report for a rollout never offered is refused', () => {
      spec
        .given([])
        .when(command('RecordUpdateReport', { rolloutId: 'r-1', status: 'booted', firmwareMeasurement: digest }))
        .thenThrows((e) => e instanceof CommandRejected && e.reason === 'not-offered');
    });
    test('a skip is recorded with its reason, and after it no offer', () => {
      const skipped = { type: 'DeviceUpdateSkipped', version: 1, data: { ...ids, reason: 'revoked' } };
      spec
        .given([])
        .when(command('SkipDevice', { ...ids, reason: 'revoked' }))
        .then([skipped]);
      spec.given([skipped]).when(command('OfferUpdate', offer)).thenNothingHappened();
    });
    test('firmware keys are recorded once per value, with their owner epoch', () => {
      const keys = { deviceId, ownerEpoch: 0, ecdhPublicKey: 'AAAA', mlKemPublicKey: 'BBBB', attestation: 'CCCC' };
      const recorded = { type: 'DeviceFirmwareKeysRecorded', version: 2, data: keys };
      spec.given([]).when(command('RecordFirmwareKeys', keys)).then([recorded]);
      spec.given([recorded]).when(command('RecordFirmwareKeys', keys)).thenNothingHappened();
      // A v1 in the log (before owner epochs) holds epoch 0's keys.
      const { ownerEpoch: _, ...v1Data } = keys;
      spec
        .given([{ type: 'DeviceFirmwareKeysRecorded', version: 1, data: v1Data }])
        .when(command('RecordFirmwareKeys', keys))
        .thenNothingHappened();
    });
    test("a new owner epoch's keys are recorded; an earlier epoch's keys after them are refused", () => {
      const epoch0 = { deviceId, ownerEpoch: 0, ecdhPublicKey: 'AAAA', mlKemPublicKey: 'BBBB', attestation: 'CCCC' };
      const epoch1 = { deviceId, ownerEpoch: 1, ecdhPublicKey: 'DDDD', mlKemPublicKey: 'EEEE', attestation: 'FFFF' };
      const recorded0 = { type: 'DeviceFirmwareKeysRecorded', version: 2, data: epoch0 };
      const recorded1 = { type: 'DeviceFirmwareKeysRecorded', version: 2, data: epoch1 };
      spec.given([recorded0]).when(command('RecordFirmwareKeys', epoch1)).then([recorded1]);
      spec
        .given([recorded0, recorded1])
        .when(command('RecordFirmwareKeys', epoch0))
        .thenThrows((e) => e instanceof CommandRejected && e.reason === 'other-owner-epoch');
    });
  });

  describe('when offered', () => {
    test('never offered twice', () => {
      spec
        .given([offered])
        .when(command('OfferUpdate', { ...offer, wave: 1 }))
        .thenNothingHappened();
    });
    test('a boot report with the release digest: applied', () => {
      spec
        .given([offered])
        .when(command('RecordUpdateReport', { rolloutId: 'r-1', status: 'booted', firmwareMeasurement: digest }))
        .then([
          {
            type: 'DeviceUpdateApplied',
            version: 1,
            data: { ...ids, version: '2.0.0', firmwareMeasurement: digest },
          },
        ]);
    });
    test('a boot report with another measurement: failed, digest', () => {
      spec
        .given([offered])
        .when(command('RecordUpdateReport', { rolloutId: 'r-1', status: 'booted', firmwareMeasurement: oldDigest }))
        .then([
          {
            type: 'DeviceUpdateFailed',
            version: 1,
            data: {
              ...ids,
              reason: 'digest',
              firmwareMeasurement: oldDigest,
              detail: 'booted an image whose measurement is not the release digest',
            },
          },
        ]);
    });
    test("a failure report: failed with the device's reason", () => {
      spec
        .given([offered])
        .when(
          command('RecordUpdateReport', {
            rolloutId: 'r-1',
            status: 'failed',
            firmwareMeasurement: oldDigest,
            reason: 'rollback',
          }),
        )
        .then([
          {
            type: 'DeviceUpdateFailed',
            version: 1,
            data: { ...ids, reason: 'rollback', firmwareMeasurement: oldDigest },
          },
        ]);
    });
    test('timeout only past the deadline', () => {
      spec
        .given([offered])
        .when(command('RecordUpdateTimeout', { rolloutId: 'r-1' }))
        .thenNothingHappened();
      spec
        .given([offered])
        .when(command('RecordUpdateTimeout', { rolloutId: 'r-1' }, '2026-12-01T00:10:00.000Z'))
        .then([
          {
            type: 'DeviceUpdateFailed',
            version: 1,
            data: { ...ids, reason: 'timeout', detail: 'no boot report before the deadline' },
          },
        ]);
    });
    test('unanswered: failed with timeout before the deadline, saying how long it waited', () => {
      spec
        .given([offered])
        .when(command('RecordOfferUnanswered', { rolloutId: 'r-1', waitedSeconds: 120 }))
        .then([
          {
            type: 'DeviceUpdateFailed',
            version: 1,
            data: { ...ids, reason: 'timeout', detail: 'no answer to the offer in 120 s' },
          },
        ]);
      spec
        .given([])
        .when(command('RecordOfferUnanswered', { rolloutId: 'r-1', waitedSeconds: 120 }))
        .thenNothingHappened();
    });
    test('aborted before it answered: skipped', () => {
      spec
        .given([offered])
        .when(command('SkipDevice', { ...ids, reason: 'aborted' }))
        .then([{ type: 'DeviceUpdateSkipped', version: 1, data: { ...ids, reason: 'aborted' } }]);
      spec
        .given([offered])
        .when(command('SkipDevice', { ...ids, reason: 'offline' }))
        .thenNothingHappened();
    });
  });

  describe('when decided', () => {
    test('a second report or a timeout changes nothing', () => {
      const applied = {
        type: 'DeviceUpdateApplied',
        version: 1,
        data: { ...ids, version: '2.0.0', firmwareMeasurement: digest },
      };
      spec
        .given([offered, applied])
        .when(command('RecordUpdateReport', { rolloutId: 'r-1', status: 'failed', firmwareMeasurement: digest }))
        .thenNothingHappened();
      spec
        .given([offered, applied])
        .when(command('RecordUpdateTimeout', { rolloutId: 'r-1' }, '2027-01-01T00:00:00.000Z'))
        .thenNothingHappened();
      spec
        .given([offered, applied])
        .when(command('RecordOfferUnanswered', { rolloutId: 'r-1', waitedSeconds: 120 }))
        .thenNothingHappened();
    });
  });
});
