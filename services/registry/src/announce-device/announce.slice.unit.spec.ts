import { batchStream, deviceStream, policyStream } from '../shared/registry-streams.js';
import {
  batchCreated,
  deviceImported,
  firmware,
  policyDefined,
  registrySlice,
  sliceDevice,
  uplink,
  type RegistrySlice,
} from '../test-support/registry-slice.js';
import { AnnounceHandler } from './announce.handler.js';

describe('announce uplink (slice)', () => {
  let slice: RegistrySlice;
  let handler: AnnounceHandler;
  const device = sliceDevice();
  const announce = (enrolmentPublicKey = device.enrolmentPublicKey) =>
    uplink('announce', device.deviceId, { enrolmentPublicKey, firmwareMeasurement: firmware });
  beforeEach(async () => {
    slice = await registrySlice();
    handler = new AnnounceHandler(slice.store, slice.deviceStates, slice.clock, slice.logger);
  });
  afterEach(() => slice.stop());

  it('given an unknown device, when it announces itself, then DeviceAnnounced (unassigned)', async () => {
    await expect(handler.handle(announce())).resolves.toEqual({ accepted: true });
    expect(await slice.written()).toEqual([
      { aggregateId: device.deviceId, type: 'DeviceAnnounced', data: { ...device, firmwareMeasurement: firmware } },
    ]);
    await slice.settled();
    expect(slice.devices.unassignedAnnounced()).toEqual([device.deviceId]);
  });

  it('given an imported device, when it announces itself, then nothing changes', async () => {
    await slice.given(policyStream('fridges'), [policyDefined]);
    await slice.given(batchStream('fridges-2026'), [batchCreated('fridges-2026')]);
    await slice.given(deviceStream(device.deviceId), [deviceImported(device, 'fridges-2026')]);
    await expect(handler.handle(announce())).resolves.toEqual({ accepted: true });
    expect(await slice.written()).toEqual([]);
  });

  it('given a known device, when it announces another key, then key-conflict', async () => {
    await handler.handle(announce());
    const written = await slice.written();
    await expect(handler.handle(announce(sliceDevice().enrolmentPublicKey))).resolves.toMatchObject({
      accepted: false,
      code: 'key-conflict',
    });
    expect(await slice.written()).toEqual(written);
  });
});
