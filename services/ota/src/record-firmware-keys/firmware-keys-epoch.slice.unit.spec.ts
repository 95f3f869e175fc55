import { randomBytes } from 'node:crypto';
import { DeviceCertified, type DeviceEnvelope } from '@tunnelkey/contracts';
import { unwrapContentKey } from '@tunnelkey/firmware';
import { givenEvent } from '@tunnelkey/testing';
import { StartRolloutHandler } from '../start-rollout/start-rollout.handler.js';
import {
  SliceDevice,
  givenFleet,
  givenTransfer,
  startOtaSlice,
  type OtaSlice,
  givenRelease,
} from '../test-support/ota-slice.test-helper.js';
import { FleetView } from '../views/fleet.view.js';
import { FirmwareKeysUplinkController } from './firmware-keys.uplink-controller.js';

// Firmware-decryption keys per owner epoch (docs/owners.md): after a transfer the keys the old owner
// saw are never wrapped for; the device is asked for its new epoch's keys.
const oldImage = new Uint8Array(randomBytes(1024));
const image = new Uint8Array(randomBytes(20 * 1024));

let slice: OtaSlice;
let devices: SliceDevice[];

const recordedKeys = async (deviceId: string) =>
  (await slice.events('DeviceFirmwareKeysRecorded')).filter((e) => e.aggregateId === deviceId);
const keysAsked = (deviceId: string) =>
  slice.downlinks.filter((d) => d.kind === 'firmware-keys-request' && d.deviceId === deviceId).length;
const offerTo = (rolloutId: string, deviceId: string) =>
  slice.downlinks.find(
    (d) => d.kind === 'update-offer' && d.deviceId === deviceId && d.body['rolloutId'] === rolloutId,
  );
const start = (rolloutId: string, batchId: string) =>
  slice.get(StartRolloutHandler).handle({
    commandId: `start-${rolloutId}`,
    rolloutId,
    firmwareId: 'fw-2',
    batchIds: [batchId],
    waves: [{ percent: 100 }],
    maxFailurePercent: 100,
    deadlineSeconds: 600,
  });
/** The registry: the device moved to globex's batch under epoch 1, and globex certified it again. */
async function transfer(device: SliceDevice): Promise<void> {
  await givenTransfer(slice, device, { ownerEpoch: 1, batchId: 'b-globex' });
  await device.newOwnerEpoch(1);
  await givenEvent(slice.store, DeviceCertified, device.deviceId, {
    deviceId: device.deviceId,
    authorityId: 'issuing-globex',
    serialNumber: '0a1b2d',
    fingerprintSha256: 'cd'.repeat(32),
    notAfter: '2027-12-01T00:00:00.000Z',
  });
  await slice.get(FleetView).catchUp();
}

beforeEach(async () => {
  // The rollout asks devices without keys for them (and waits a moment for answers that do not come here).
  slice = await startOtaSlice({ config: { keysWaitMs: 20 } });
  devices = await Promise.all(['d-0', 'd-1'].map((id) => SliceDevice.create(id, () => slice, oldImage)));
  await givenFleet(slice, devices, { batchId: 'b-acme' });
  for (const device of devices) expect(await device.reportKeys()).toBe('handled');
  await givenRelease(slice, image);
});
afterEach(() => slice.close());

describe('firmware keys per owner epoch (slice)', () => {
  test("after a transfer the old epoch's keys are dropped: the rollout asks the device again and wraps only for its new keys", async () => {
    const [d0, d1] = devices as [SliceDevice, SliceDevice];
    const fleet = slice.get(FleetView);
    expect(fleet.device('d-0')?.keys).toMatchObject({ ownerEpoch: 0 });
    const learnedByAcme = d0.decryptionKeys;
    await transfer(d0);
    await transfer(d1);
    expect(fleet.device('d-0')).toMatchObject({ ownerEpoch: 1, batchId: 'b-globex', certified: true });
    expect(fleet.device('d-0')?.keys).toBeUndefined();
    expect(fleet.devicesOf(['b-acme'])).toEqual([]);

    // d-1 reports its new epoch's keys; d-0 has not yet.
    expect(await d1.reportKeys()).toBe('handled');
    expect((await recordedKeys('d-1')).at(-1)).toMatchObject({ version: 2, data: { ownerEpoch: 1 } });
    expect(await start('r-1', 'b-globex')).toMatchObject({ deviceCount: 1, excluded: 1 });
    expect(keysAsked('d-0')).toBe(1);
    expect(keysAsked('d-1')).toBe(0);
    await slice.drive();
    expect(offerTo('r-1', 'd-0')).toBeUndefined();
    const skipped = await slice.events('DeviceUpdateSkipped');
    expect(skipped.map((e) => e.data)).toContainEqual(
      expect.objectContaining({ deviceId: 'd-0', rolloutId: 'r-1', reason: 'no-firmware-keys' }),
    );

    // Asked, d-0 reports its new keys: the next rollout wraps for them, and the keys acme saw cannot unwrap it.
    expect(await d0.reportKeys()).toBe('handled');
    expect(await start('r-2', 'b-globex')).toMatchObject({ deviceCount: 2, excluded: 0 });
    await slice.drive();
    const offer = offerTo('r-2', 'd-0');
    expect(offer).toBeDefined();
    const wrap = new Uint8Array(Buffer.from(offer!.body['keyWrap'] as string, 'base64'));
    const context = { deviceId: 'd-0', rolloutId: 'r-2' };
    expect(unwrapContentKey(wrap, d0.decryptionKeys, context)).toHaveLength(32);
    expect(() => unwrapContentKey(wrap, learnedByAcme, context)).toThrow();
  });

  test("firmware keys of another epoch than the device's current one are refused, and nothing is recorded", async () => {
    const [d0] = devices as [SliceDevice];
    await transfer(d0);
    const before = await recordedKeys('d-0');
    expect(before).toHaveLength(1);
    expect(before[0]?.data).toMatchObject({ ownerEpoch: 0 });
    const controller = slice.get(FirmwareKeysUplinkController);
    const envelopeOf = async (ownerEpoch: number) => {
      const { data } = await d0.firmwareKeys(ownerEpoch);
      return JSON.parse(new TextDecoder().decode(data)) as DeviceEnvelope;
    };
    // The old owner's epoch (e.g. a device not told of the transfer) and an epoch ahead of the device's.
    expect(await controller.record(await envelopeOf(0))).toBe('other-owner-epoch');
    expect(await controller.record(await envelopeOf(2))).toBe('other-owner-epoch');
    expect(await d0.reportKeys(0)).toBe('handled');
    expect(await recordedKeys('d-0')).toEqual(before);
    expect(slice.get(FleetView).device('d-0')?.keys).toBeUndefined();

    // Keys attested for epoch 0 but claimed for epoch 1: the attestation binds the epoch.
    const { data } = await d0.firmwareKeys(0);
    const forged = JSON.parse(new TextDecoder().decode(data)) as DeviceEnvelope;
    expect(await controller.record({ ...forged, body: { ...(forged.body as object), ownerEpoch: 1 } })).toBe(
      'bad-attestation',
    );
    expect(await recordedKeys('d-0')).toEqual(before);

    // Its current epoch's keys are recorded, with the epoch.
    expect(await controller.record(await envelopeOf(1))).toBe('recorded');
    expect((await recordedKeys('d-0')).at(-1)).toMatchObject({ version: 2, data: { deviceId: 'd-0', ownerEpoch: 1 } });
  });
});
