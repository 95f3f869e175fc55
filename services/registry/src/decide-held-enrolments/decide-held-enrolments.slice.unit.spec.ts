import { batchStream, deviceStream, policyStream } from '../shared/registry-streams.js';
import {
  batchCreated,
  deviceImported,
  firmware,
  policyDefined,
  registrySlice,
  sliceDevice,
  sliceNow,
  type RegistrySlice,
} from '../test-support/registry-slice.js';
import { DecideHeldEnrolmentsHandler } from './decide-held-enrolments.handler.js';

type Device = ReturnType<typeof sliceDevice>;
const expiresAt = new Date(sliceNow.getTime() + 60_000).toISOString();
const held = (device: Device) => ({
  type: 'EnrolmentApprovalRequested',
  data: {
    batchId: 'no-file',
    requestId: 'ask-1',
    deviceId: device.deviceId,
    enrolmentPublicKey: device.enrolmentPublicKey,
    enrolmentKeyDigest: device.enrolmentKeyDigest,
    firmwareMeasurement: firmware,
    reason: 'unattested',
  },
});

describe('decide-held-enrolments (slice)', () => {
  let slice: RegistrySlice;
  let handler: DecideHeldEnrolmentsHandler;
  const [first, second, third, stranger] = [sliceDevice(), sliceDevice(), sliceDevice(), sliceDevice()];
  const decide = (deviceIds: string[], decision: 'approve' | 'reject', commandId = `c-${decision}`) =>
    handler.handle({ commandId, batchId: 'no-file', requestId: 'ask-1', deviceIds, decision });
  beforeEach(async () => {
    slice = await registrySlice();
    const { store, requests, batches, deviceStates, admission, clock, logger } = slice;
    handler = new DecideHeldEnrolmentsHandler(store, requests, batches, deviceStates, admission, clock, logger);
    await slice.given(policyStream('fridges'), [policyDefined]);
    await slice.given(batchStream('no-file'), [
      batchCreated('no-file', 2),
      { type: 'EnrolmentKeysRequested', data: { batchId: 'no-file', requestId: 'ask-1', expiresAt } },
      held(first),
      held(second),
      held(third),
    ]);
  });
  afterEach(() => slice.stop());

  it('approves held devices into the batch up to its size, rejects others, reports the rest as not held', async () => {
    await expect(decide([first.deviceId, stranger.deviceId], 'approve')).resolves.toEqual({
      batchId: 'no-file',
      requestId: 'ask-1',
      devices: [
        { deviceId: first.deviceId, outcome: 'approved' },
        { deviceId: stranger.deviceId, outcome: 'not-held' },
      ],
    });
    expect(await slice.written()).toEqual([
      {
        aggregateId: 'no-file',
        type: 'BatchPlacesReserved',
        data: { batchId: 'no-file', deviceIds: [first.deviceId] },
      },
      {
        aggregateId: first.deviceId,
        type: 'EnrolmentKeyReported',
        data: {
          deviceId: first.deviceId,
          requestId: 'ask-1',
          batchId: 'no-file',
          enrolmentPublicKey: first.enrolmentPublicKey,
          enrolmentKeyDigest: first.enrolmentKeyDigest,
          firmwareMeasurement: firmware,
        },
      },
      {
        aggregateId: 'no-file',
        type: 'HeldEnrolmentDecided',
        data: { batchId: 'no-file', requestId: 'ask-1', deviceId: first.deviceId, decision: 'approved' },
      },
    ]);
    await expect(decide([second.deviceId], 'reject')).resolves.toMatchObject({
      devices: [{ deviceId: second.deviceId, outcome: 'rejected' }],
    });
    // Decided devices keep their decision: a second command changes nothing.
    await expect(decide([second.deviceId, first.deviceId], 'approve', 'c-again')).resolves.toMatchObject({
      devices: [
        { deviceId: second.deviceId, outcome: 'rejected' },
        { deviceId: first.deviceId, outcome: 'approved' },
      ],
    });
    expect((await slice.written()).map((e) => e.type)).toEqual([
      'BatchPlacesReserved',
      'EnrolmentKeyReported',
      'HeldEnrolmentDecided',
      'HeldEnrolmentDecided',
    ]);
    expect(slice.batches.batchSummary('no-file')).toMatchObject({ devices: 1 });
    expect(slice.requests.report('ask-1', sliceNow)?.held.map((h) => h.decision)).toEqual([
      'approved',
      'rejected',
      'pending',
    ]);
  });

  it('keeps a device held when the batch is full; refuses an unknown request', async () => {
    await slice.given(deviceStream(stranger.deviceId), [deviceImported(stranger, 'no-file')]);
    await decide([first.deviceId], 'approve');
    await expect(decide([third.deviceId], 'approve', 'c-full')).resolves.toMatchObject({
      devices: [{ deviceId: third.deviceId, outcome: 'batch-full' }],
    });
    expect(slice.requests.held('ask-1', third.deviceId)?.decision).toBeUndefined();
    await expect(
      handler.handle({
        commandId: 'c-x',
        batchId: 'no-file',
        requestId: 'ask-0',
        deviceIds: [first.deviceId],
        decision: 'reject',
      }),
    ).rejects.toMatchObject({ reason: 'NOT_FOUND' });
    await expect(
      handler.handle({ commandId: 'c-y', batchId: 'no-file', requestId: 'ask-1', deviceIds: [] }),
    ).rejects.toThrow();
  });
});
