import { batchStream, deviceStream, policyStream } from '../shared/registry-streams.js';
import {
  batchCreated,
  deviceAnnounced,
  deviceImported,
  firmware,
  policyDefined,
  registrySlice,
  sliceDevice,
  sliceNow,
  uplink,
  type RegistrySlice,
} from '../test-support/registry-slice.js';
import { EnrolmentKeyReportHandler } from './enrolment-key-report.handler.js';

const expiresAt = new Date(sliceNow.getTime() + 60_000).toISOString();
const requested = (requestId: string, deviceIds?: string[]) => ({
  type: 'EnrolmentKeysRequested',
  data: { batchId: 'no-file', requestId, expiresAt, ...(deviceIds ? { deviceIds } : {}) },
});
const report = (device: ReturnType<typeof sliceDevice>, requestId: string) =>
  uplink('enrolment-key-report', device.deviceId, {
    requestId,
    enrolmentPublicKey: device.enrolmentPublicKey,
    firmwareMeasurement: firmware,
  });

describe('enrolment-key-report uplink (slice)', () => {
  let slice: RegistrySlice;
  let handler: EnrolmentKeyReportHandler;
  const [device, other, third] = [sliceDevice(), sliceDevice(), sliceDevice()];
  beforeEach(async () => {
    slice = await registrySlice();
    const { store, deviceStates, requests, batches, admission, clock, logger } = slice;
    handler = new EnrolmentKeyReportHandler(store, deviceStates, requests, batches, admission, clock, logger);
    await slice.given(policyStream('fridges'), [policyDefined]);
    await slice.given(batchStream('no-file'), [
      batchCreated('no-file', 1),
      requested('ask-1'),
      requested('ask-named', [other.deviceId]),
    ]);
    await slice.given(deviceStream(device.deviceId), [deviceAnnounced(device)]);
  });
  afterEach(() => slice.stop());

  it('given an open request, when a device reports its key, then EnrolmentKeyReported: it joins', async () => {
    await expect(handler.handle(report(device, 'ask-1'))).resolves.toEqual({ accepted: true });
    expect(await slice.written()).toEqual([
      {
        aggregateId: device.deviceId,
        type: 'EnrolmentKeyReported',
        data: {
          deviceId: device.deviceId,
          requestId: 'ask-1',
          batchId: 'no-file',
          enrolmentPublicKey: device.enrolmentPublicKey,
          enrolmentKeyDigest: device.enrolmentKeyDigest,
          firmwareMeasurement: firmware,
        },
      },
    ]);
    expect(slice.batches.batchSummary('no-file')).toMatchObject({ devices: 1, byStatus: { Imported: 1 } });
  });

  it('refuses an unknown or expired request, a device not asked, a full batch; writes nothing', async () => {
    expect(await handler.handle(report(device, 'ask-0'))).toMatchObject({ accepted: false, code: 'unknown-request' });
    expect(await handler.handle(report(device, 'ask-named'))).toMatchObject({ accepted: false, code: 'not-requested' });
    await slice.given(deviceStream(third.deviceId), [deviceImported(third, 'no-file')]);
    expect(await handler.handle(report(device, 'ask-1'))).toMatchObject({ accepted: false, code: 'batch-full' });
    slice.setNow(new Date(sliceNow.getTime() + 120_000));
    expect(await handler.handle(report(device, 'ask-1'))).toMatchObject({ accepted: false, code: 'request-expired' });
    expect(await slice.written()).toEqual([]);
  });
});
