import { batchStream, deviceStream, policyStream } from '../shared/registry-streams.js';
import {
  batchCreated,
  deviceAnnounced,
  deviceImported,
  policyDefined,
  registrySlice,
  sliceDevice,
  sliceNow,
  type RegistrySlice,
} from '../test-support/registry-slice.js';
import { RequestEnrolmentKeysHandler } from './request-enrolment-keys.handler.js';

const expiresAt = new Date(sliceNow.getTime() + 60_000).toISOString();

describe('RequestEnrolmentKeys (slice)', () => {
  let slice: RegistrySlice;
  let handler: RequestEnrolmentKeysHandler;
  const [announced, imported, named, remembered] = [sliceDevice(), sliceDevice(), sliceDevice(), sliceDevice()];
  beforeEach(async () => {
    slice = await registrySlice();
    const { store, requests, devices, announced: inMemory, downlinks, config, clock, logger } = slice;
    handler = new RequestEnrolmentKeysHandler(store, requests, devices, inMemory, downlinks, config, clock, logger);
    inMemory.remember(remembered.deviceId, sliceNow);
    await slice.given(policyStream('fridges'), [policyDefined]);
    await slice.given(deviceStream(announced.deviceId), [deviceAnnounced(announced)]);
    await slice.given(deviceStream(imported.deviceId), [deviceImported(imported, 'other')]);
    await slice.given(batchStream('no-file'), [batchCreated('no-file')]);
  });
  afterEach(() => slice.stop());

  it('given announced devices (in the log, or lately in memory), when keys are requested, then EnrolmentKeysRequested, each asked', async () => {
    const reply = await handler.handle({ commandId: 'c-1', batchId: 'no-file', requestId: 'ask-1', ttlSeconds: 60 });
    expect(reply).toEqual({ requestId: 'ask-1', expiresAt });
    expect(await slice.written()).toEqual([
      {
        aggregateId: 'no-file',
        type: 'EnrolmentKeysRequested',
        data: { batchId: 'no-file', requestId: 'ask-1', expiresAt },
      },
    ]);
    expect(slice.downlinks.sent).toEqual([
      { kind: 'enrolment-key-request', deviceId: announced.deviceId, body: { requestId: 'ask-1', expiresAt } },
      { kind: 'enrolment-key-request', deviceId: remembered.deviceId, body: { requestId: 'ask-1', expiresAt } },
    ]);
    expect(slice.requests.request('ask-1')).toEqual({ batchId: 'no-file', requestId: 'ask-1', expiresAt });
  });

  it('when named devices are asked, then only they get the request', async () => {
    await handler.handle({
      commandId: 'c-2',
      batchId: 'no-file',
      requestId: 'ask-2',
      ttlSeconds: 60,
      deviceIds: [named.deviceId],
    });
    expect(slice.downlinks.sent.map((m) => m.deviceId)).toEqual([named.deviceId]);
  });

  it('given the request, when retried, then nothing is written, its expiry stands, it is sent again', async () => {
    await handler.handle({ commandId: 'c-3', batchId: 'no-file', requestId: 'ask-3', ttlSeconds: 60 });
    const written = await slice.written();
    slice.setNow(new Date(sliceNow.getTime() + 10_000));
    await expect(
      handler.handle({ commandId: 'c-4', batchId: 'no-file', requestId: 'ask-3', ttlSeconds: 60 }),
    ).resolves.toEqual({ requestId: 'ask-3', expiresAt });
    expect(await slice.written()).toEqual(written);
    expect(slice.downlinks.sent).toHaveLength(4);
  });

  it('given no such batch, when keys are requested, then NOT_FOUND and nothing is sent', async () => {
    await expect(
      handler.handle({ commandId: 'c-5', batchId: 'nope', requestId: 'ask-5', ttlSeconds: 60 }),
    ).rejects.toMatchObject({ reason: 'NOT_FOUND' });
    expect(slice.downlinks.sent).toEqual([]);
  });
});
