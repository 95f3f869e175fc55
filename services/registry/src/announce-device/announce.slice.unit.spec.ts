import { AnnouncedDevices } from '../shared/announced-devices.js';
import { batchStream, deviceStream, policyStream } from '../shared/registry-streams.js';
import {
  batchCreated,
  deviceImported,
  firmware,
  policyDefined,
  registrySlice,
  sliceDevice,
  sliceNow,
  uplink,
  type RegistrySlice,
} from '../test-support/registry-slice.js';
import { AnnounceHandler } from './announce.handler.js';

describe('announce uplink (slice)', () => {
  let slice: RegistrySlice;
  let handler: AnnounceHandler;
  const device = sliceDevice();
  const announce = (who = device) =>
    uplink('announce', who.deviceId, { enrolmentPublicKey: who.enrolmentPublicKey, firmwareMeasurement: firmware });
  const handlerWith = (announced: AnnouncedDevices) =>
    new AnnounceHandler(slice.devices, announced, slice.requests, slice.downlinks, slice.clock, slice.logger);
  beforeEach(async () => {
    slice = await registrySlice();
    handler = handlerWith(slice.announced);
    await slice.given(policyStream('fridges'), [policyDefined]);
    await slice.given(batchStream('fridges-2026'), [batchCreated('fridges-2026')]);
  });
  afterEach(() => slice.stop());

  it('given an unknown device, when it announces itself, then nothing is written: it is remembered in memory', async () => {
    await expect(handler.handle(announce())).resolves.toEqual({ accepted: true, detail: 'remembered' });
    expect(await slice.written()).toEqual([]);
    expect(slice.announced.recent(sliceNow)).toEqual([device.deviceId]);
    expect(slice.downlinks.sent).toEqual([]);
  });

  it('given an open enrolment-key request, when an unknown device announces itself, then it is asked for its key', async () => {
    const expiresAt = new Date(sliceNow.getTime() + 60_000).toISOString();
    await slice.given(batchStream('fridges-2026'), [
      { type: 'EnrolmentKeysRequested', data: { batchId: 'fridges-2026', requestId: 'ask-1', expiresAt } },
      {
        type: 'EnrolmentKeysRequested',
        data: { batchId: 'fridges-2026', requestId: 'ask-named', expiresAt, deviceIds: [sliceDevice().deviceId] },
      },
    ]);
    await handler.handle(announce());
    expect(slice.downlinks.sent).toEqual([
      { kind: 'enrolment-key-request', deviceId: device.deviceId, body: { requestId: 'ask-1', expiresAt } },
    ]);
    expect(await slice.written()).toEqual([]);
  });

  it('given an imported device, when it announces itself, then nothing changes', async () => {
    await slice.given(deviceStream(device.deviceId), [deviceImported(device, 'fridges-2026')]);
    await expect(handler.handle(announce())).resolves.toEqual({ accepted: true, detail: 'known' });
    expect(await slice.written()).toEqual([]);
    expect(slice.announced.size).toBe(0);
  });

  it('remembers at most trackedDevices announcements, each for announcementTtlSeconds', async () => {
    const announced = new AnnouncedDevices({ trackedDevices: 100, announcementTtlSeconds: 60 });
    const bounded = handlerWith(announced);
    const flood = Array.from({ length: 300 }, () => sliceDevice());
    for (const who of flood) await bounded.handle(announce(who));
    expect(announced.size).toBe(100);
    expect(announced.recent(sliceNow)).toEqual(flood.slice(200).map((d) => d.deviceId));
    expect(announced.recent(new Date(sliceNow.getTime() + 61_000))).toEqual([]);
    expect(announced.size).toBe(0);
    expect(await slice.written()).toEqual([]);
  });
});
