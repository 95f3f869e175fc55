import { randomBytes } from 'node:crypto';
import { DescribeRolloutHandler } from '../describe-rollout/describe-rollout.handler.js';
import { StartRolloutHandler } from '../start-rollout/start-rollout.handler.js';
import {
  SliceDevice,
  givenFleet,
  startOtaSlice,
  type OtaSlice,
  givenRelease,
} from '../test-support/ota-slice.test-helper.js';

const oldImage = new Uint8Array(randomBytes(1024));
const image = new Uint8Array(randomBytes(40 * 1024));

let slice: OtaSlice;

const describeRollout = () =>
  slice.get(DescribeRolloutHandler).handle({ commandId: `describe-${Math.random()}`, rolloutId: 'r-1' });

/** Answers `limit` of the open offers (all by default). */
async function answer(devices: SliceDevice[], limit = Infinity): Promise<void> {
  let answered = 0;
  for (const device of devices) {
    if (answered >= limit) break;
    const status = (await describeRollout()).devices.find((d) => d.deviceId === device.deviceId)?.status;
    if (status !== 'offered') continue;
    await device.answerOffer();
    answered++;
  }
  await slice.drive();
}

test('the OTA service restarted mid-wave finishes the rollout from the log: none offered twice, none forgotten', async () => {
  slice = await startOtaSlice();
  const devices = await Promise.all(
    Array.from({ length: 12 }, (_, i) => SliceDevice.create(`d-${String(i).padStart(2, '0')}`, () => slice, oldImage)),
  );
  devices[4]!.fault = 'boot-fails';
  await givenFleet(slice, devices);
  for (const device of devices) await device.reportKeys();
  await givenRelease(slice, image);
  await slice.get(StartRolloutHandler).handle({
    commandId: 's',
    rolloutId: 'r-1',
    firmwareId: 'fw-2',
    batchIds: ['b-1'],
    waves: [{ percent: 25 }, { percent: 75 }, { percent: 100 }],
    maxFailurePercent: 50,
  });
  await slice.drive();
  await answer(devices);
  // Wave 1 under way: half its devices answer, then the service stops.
  expect((await describeRollout()).wave).toBe(1);
  await answer(devices, 3);
  const before = await describeRollout();
  expect(before.status).toBe('running');
  const { store, images, platformKey } = slice;
  const offersBefore = slice.downlinks.filter((d) => d.kind === 'update-offer').length;
  await slice.close();

  slice = await startOtaSlice({ store, images, platformKey, startAt: Date.parse('2026-12-01T10:01:00.000Z') });
  // The unanswered offers are sent again (same devices), nothing new before the wave goes on.
  await slice.drive();
  const resent = new Set(slice.downlinks.filter((d) => d.kind === 'update-offer').map((d) => d.deviceId));
  const open = before.devices.filter((d) => d.status === 'offered').map((d) => d.deviceId);
  expect([...resent].sort()).toEqual(open.sort());
  for (let round = 0; round < 6 && (await describeRollout()).status === 'running'; round++) await answer(devices);
  const after = await describeRollout();
  expect(after).toMatchObject({ status: 'completed', updated: 11, failed: 1, skipped: 0 });
  const offers = (await slice.events('DeviceUpdateOffered')).map((e) => e.aggregateId);
  expect(offers.length).toBe(12);
  expect(new Set(offers).size).toBe(12);
  expect(offersBefore).toBeGreaterThan(0);
  await slice.close();
});
