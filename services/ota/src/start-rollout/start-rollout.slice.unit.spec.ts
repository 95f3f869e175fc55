import { randomBytes } from 'node:crypto';
import { DeviceConnected, DeviceDisconnected, UpdateReportMessage } from '@tunnelkey/contracts';
import { unwrapContentKey } from '@tunnelkey/firmware';
import { givenEvent } from '@tunnelkey/testing';
import { ControlRolloutHandler } from '../control-rollout/control-rollout.handler.js';
import { DescribeRolloutHandler } from '../describe-rollout/describe-rollout.handler.js';
import { UpdateReportUplinkController } from '../report-update/update-report.uplink-controller.js';
import {
  SliceDevice,
  givenFleet,
  sha256,
  startOtaSlice,
  type OtaSlice,
  givenRelease,
} from '../test-support/ota-slice.test-helper.js';
import { StartRolloutHandler } from './start-rollout.handler.js';

const oldImage = new Uint8Array(randomBytes(1024));
const image = new Uint8Array(randomBytes(70 * 1024));
const waves = [{ percent: 10 }, { percent: 50 }, { percent: 100 }];

let slice: OtaSlice;
let devices: SliceDevice[];

const start = (
  overrides: { rolloutId?: string; maxFailurePercent?: number; batchIds?: string[]; firmwareId?: string } = {},
) =>
  slice.get(StartRolloutHandler).handle({
    commandId: `start-${overrides.rolloutId ?? 'r-1'}`,
    rolloutId: 'r-1',
    firmwareId: 'fw-2',
    batchIds: ['b-1'],
    waves,
    maxFailurePercent: 25,
    deadlineSeconds: 600,
    ...overrides,
  });
const describeRollout = (rolloutId = 'r-1') =>
  slice.get(DescribeRolloutHandler).handle({ commandId: `describe-${Math.random()}`, rolloutId });
const control = (type: 'PauseRollout' | 'ResumeRollout' | 'AbortRollout', commandId: string) =>
  slice.get(ControlRolloutHandler).handle(type, { commandId, rolloutId: 'r-1' });
const offeredTo = () => new Set(slice.downlinks.filter((d) => d.kind === 'update-offer').map((d) => d.deviceId));
/** Every device offered and not yet answered answers its offer. */
async function answerAll(): Promise<void> {
  for (const device of devices) {
    const status = (await describeRollout()).devices.find((d) => d.deviceId === device.deviceId)?.status;
    if (status === 'offered') await device.answerOffer();
  }
  await slice.drive();
}

async function setUp(options: Parameters<typeof startOtaSlice>[0] = {}): Promise<void> {
  slice = await startOtaSlice(options);
  devices = await Promise.all(
    Array.from({ length: 23 }, (_, i) => SliceDevice.create(`d-${String(i).padStart(2, '0')}`, () => slice, oldImage)),
  );
  await givenFleet(slice, devices, { revoked: ['d-20'], notCertified: ['d-21'] });
  for (const device of devices.filter((d) => d.deviceId !== 'd-22')) expect(await device.reportKeys()).toBe('handled');
  await givenRelease(slice, image);
}
beforeEach(() => setUp());
afterEach(() => slice.close());

describe('StartRollout (slice)', () => {
  test('refused, writing nothing: an unknown image, an unknown batch, waves that are not cumulative', async () => {
    const before = (await slice.events()).length;
    await expect(start({ firmwareId: 'fw-none' })).rejects.toMatchObject({ reason: 'unknown-firmware' });
    await expect(start({ batchIds: ['b-none'] })).rejects.toMatchObject({ reason: 'unknown-batch' });
    await expect(
      slice.get(StartRolloutHandler).handle({
        commandId: 'bad-waves',
        rolloutId: 'r-1',
        firmwareId: 'fw-2',
        batchIds: ['b-1'],
        waves: [{ percent: 50 }, { percent: 20 }],
        maxFailurePercent: 10,
      }),
    ).rejects.toMatchObject({ reason: 'invalid-waves' });
    expect((await slice.events()).length).toBe(before);
  });

  test('a device whose last connection event is a disconnect is excluded as offline; connected again, it is offered', async () => {
    const seen = { targetId: 'broker-1', clientId: 'd-05' };
    await givenEvent(slice.store, DeviceConnected, 'd-05', {
      deviceId: 'd-05',
      ...seen,
      connectedAt: '2026-12-01T09:00:00.000Z',
      tlsProtocol: 'TLSv1.3',
      cipher: 'TLS_AES_256_GCM_SHA384',
    });
    await givenEvent(slice.store, DeviceDisconnected, 'd-05', {
      deviceId: 'd-05',
      ...seen,
      disconnectedAt: '2026-12-01T09:30:00.000Z',
      reason: 'keepalive-timeout',
    });
    expect(await start()).toEqual({ rolloutId: 'r-1', deviceCount: 19, excluded: 4 });
    const skipped = await slice.events('DeviceUpdateSkipped');
    expect(skipped.find((e) => e.aggregateId === 'd-05')?.data).toMatchObject({ reason: 'offline' });
    await givenEvent(slice.store, DeviceConnected, 'd-05', {
      deviceId: 'd-05',
      ...seen,
      connectedAt: '2026-12-01T10:00:00.000Z',
      tlsProtocol: 'TLSv1.3',
      cipher: 'TLS_AES_256_GCM_SHA384',
    });
    await expect(start({ rolloutId: 'r-2' })).resolves.toEqual({ rolloutId: 'r-2', deviceCount: 20, excluded: 3 });
  });

  test('offers no more devices than OTA_DOWNLOAD_WINDOW at once: the next ones once the first have reported', async () => {
    await slice.close();
    await setUp({ config: { downloadWindow: 3 } });
    await slice.get(StartRolloutHandler).handle({
      commandId: 'start-one-wave',
      rolloutId: 'r-1',
      firmwareId: 'fw-2',
      batchIds: ['b-1'],
      waves: [{ percent: 100 }],
      maxFailurePercent: 100,
    });
    await slice.drive();
    expect(offeredTo().size).toBe(3);
    await slice.drive();
    expect(offeredTo().size).toBe(3);
    const first = [...offeredTo()];
    await devices.find((d) => d.deviceId === first[0])!.answerOffer();
    await devices.find((d) => d.deviceId === first[1])!.answerOffer();
    await slice.drive();
    expect(offeredTo().size).toBe(5);
    expect((await describeRollout()).devices.filter((d) => d.status === 'offered')).toHaveLength(3);
  });

  test('three waves: exclusions with reasons, faulty devices fail for their reason, the threshold pauses, resume completes', async () => {
    const faulty = devices.slice(0, 20).filter((d) => ['d-03', 'd-07', 'd-11', 'd-15'].includes(d.deviceId));
    faulty[0]!.fault = 'boot-fails';
    faulty[1]!.fault = 'wrong-image';
    faulty[2]!.fault = 'boot-fails';
    faulty[3]!.fault = 'boot-fails';
    expect(await start()).toEqual({ rolloutId: 'r-1', deviceCount: 20, excluded: 3 });
    const skipped = await slice.events('DeviceUpdateSkipped');
    expect(skipped.map((e) => [e.aggregateId, (e.data as { reason: string }).reason]).sort()).toEqual([
      ['d-20', 'revoked'],
      ['d-21', 'not-certified'],
      ['d-22', 'no-firmware-keys'],
    ]);
    await slice.drive();
    // Wave 0: 10 % of 20 = 2 devices offered, no more until they answer.
    expect(offeredTo().size).toBe(2);
    let status = await describeRollout();
    expect(status.waves).toEqual([expect.objectContaining({ wave: 0, size: 2, offered: 2, completed: false })]);
    for (let round = 0; round < 6 && (await describeRollout()).status === 'running'; round++) await answerAll();
    status = await describeRollout();
    if (status.status === 'paused') {
      expect(status.pauseReason).toMatch(/devices failed \(\d+ % > 25 %\)/);
      await control('ResumeRollout', 'resume-1');
      for (let round = 0; round < 6 && (await describeRollout()).status === 'running'; round++) await answerAll();
      status = await describeRollout();
    }
    // Whether or not a wave crossed the threshold (the plan order decides where the faulty ones fall),
    // a resume (or none) finishes the rollout.
    while (status.status === 'paused') {
      await control('ResumeRollout', `resume-${Math.random()}`);
      for (let round = 0; round < 6 && (await describeRollout()).status === 'running'; round++) await answerAll();
      status = await describeRollout();
    }
    expect(status).toMatchObject({ status: 'completed', updated: 16, failed: 4, skipped: 3 });
    const reasons = Object.fromEntries(
      status.devices.filter((d) => d.status === 'failed').map((d) => [d.deviceId, d.reason]),
    );
    expect(reasons).toEqual({ 'd-03': 'boot-failed', 'd-07': 'digest', 'd-11': 'boot-failed', 'd-15': 'boot-failed' });
    // Every healthy device now measures the new image; the failed ones still run the old one.
    for (const device of devices.slice(0, 20)) {
      const expected =
        device.fault === 'none' ? sha256(image) : device.fault === 'boot-fails' ? sha256(oldImage) : device.measurement;
      expect(device.measurement).toBe(expected);
    }
    // Offered once each, never twice; the excluded never.
    const offers = (await slice.events('DeviceUpdateOffered')).map((e) => e.aggregateId);
    expect(new Set(offers).size).toBe(offers.length);
    expect(offers.sort()).toEqual(devices.slice(0, 20).map((d) => d.deviceId));
    expect((await slice.events('RolloutCompleted')).length).toBe(1);
  });

  test('a wave whose failures exceed the threshold pauses itself and says why; nothing more is offered until resumed', async () => {
    for (const device of devices) device.fault = 'boot-fails';
    await start({ maxFailurePercent: 0 });
    await slice.drive();
    await answerAll();
    const status = await describeRollout();
    expect(status.status).toBe('paused');
    expect(status.pauseReason).toBe('wave 0: 2 of 2 devices failed (100 % > 0 %)');
    const offered = offeredTo().size;
    await slice.drive();
    expect(offeredTo().size).toBe(offered);
    await expect(control('PauseRollout', 'pause-again')).rejects.toMatchObject({ reason: 'not-running' });
    await control('ResumeRollout', 'resume-1');
    await slice.drive();
    expect(offeredTo().size).toBe(10);
  });

  test('pause stops new offers; resume goes on; abort stops every further offer; each refused in the wrong state', async () => {
    await start();
    await slice.drive();
    await control('PauseRollout', 'pause-1');
    await answerAll();
    expect(offeredTo().size).toBe(2);
    expect((await describeRollout()).status).toBe('paused');
    await control('ResumeRollout', 'resume-1');
    await slice.drive();
    expect(offeredTo().size).toBe(10);
    await control('AbortRollout', 'abort-1');
    await answerAll();
    await slice.drive();
    expect(offeredTo().size).toBe(10);
    expect((await describeRollout()).status).toBe('aborted');
    await expect(control('ResumeRollout', 'resume-2')).rejects.toMatchObject({ reason: 'not-paused' });
    await expect(control('AbortRollout', 'abort-2')).rejects.toMatchObject({ reason: 'not-active' });
  });

  test("each offer wraps the content key for its device only: another device's keys cannot unwrap it", async () => {
    await start();
    await slice.drive();
    const [first, second] = slice.downlinks.filter((d) => d.kind === 'update-offer');
    const mine = devices.find((d) => d.deviceId === first!.deviceId)!;
    const other = devices.find((d) => d.deviceId === second!.deviceId)!;
    const wrap = new Uint8Array(Buffer.from(first!.body['keyWrap'] as string, 'base64'));
    const context = { deviceId: mine.deviceId, rolloutId: 'r-1' };
    expect(unwrapContentKey(wrap, mine.decryptionKeys, context)).toHaveLength(32);
    expect(() => unwrapContentKey(wrap, other.decryptionKeys, context)).toThrow();
  });

  test('a boot report with a forged signature or a replayed counter changes nothing', async () => {
    await start();
    await slice.drive();
    const offered = slice.downlinks.find((d) => d.kind === 'update-offer')!;
    const device = devices.find((d) => d.deviceId === offered.deviceId)!;
    const other = devices.find((d) => d.deviceId !== offered.deviceId)!;
    const body = {
      rolloutId: 'r-1',
      firmwareId: 'fw-2',
      status: 'booted' as const,
      firmwareVersion: '2.0.0',
      firmwareMeasurement: sha256(image),
    };
    // Signed with another device's key under this device's id.
    const forged = await other.uplink(UpdateReportMessage, body);
    const forgedSubject = forged.subject.replace(other.deviceId, device.deviceId);
    const envelope = JSON.parse(new TextDecoder().decode(forged.data)) as { deviceId: string };
    envelope.deviceId = device.deviceId;
    const reports = slice.get(UpdateReportUplinkController);
    expect(await reports.uplinks.receive(forgedSubject, new TextEncoder().encode(JSON.stringify(envelope)))).toBe(
      'refused',
    );
    const genuine = await device.uplink(UpdateReportMessage, {
      ...body,
      status: 'failed',
      reason: 'rollback',
    });
    expect(await reports.uplinks.receive(genuine.subject, genuine.data)).toBe('handled');
    expect(await reports.uplinks.receive(genuine.subject, genuine.data)).toBe('refused');
    expect((await slice.events('DeviceUpdateApplied')).length).toBe(0);
    expect((await slice.events('DeviceUpdateFailed')).map((e) => (e.data as { reason: string }).reason)).toEqual([
      'rollback',
    ]);
  });

  test('an offer no device answers fails with timeout after OTA_OFFER_ANSWER_SECONDS, long before its deadline; the wave goes on', async () => {
    await start({ maxFailurePercent: 100 });
    await slice.drive();
    const [silent, answering] = [...offeredTo()].map((id) => devices.find((d) => d.deviceId === id)!);
    silent!.fault = 'silent';
    await answering!.answerOffer();
    // Sent again meanwhile (doubling), still no answer: 120 s (the default) after the first send it fails.
    slice.advance(119_000);
    await slice.drive();
    expect((await describeRollout()).devices.find((d) => d.deviceId === silent!.deviceId)?.status).toBe('offered');
    const sent = slice.downlinks.filter((d) => d.kind === 'update-offer' && d.deviceId === silent!.deviceId);
    expect(sent.length).toBeGreaterThan(1);
    slice.advance(1_000);
    await slice.drive();
    const failed = await slice.events('DeviceUpdateFailed');
    expect(failed.map((e) => [e.aggregateId, (e.data as { reason: string; detail: string }).detail])).toEqual([
      [silent!.deviceId, 'no answer to the offer in 120 s'],
    ]);
    // Its wave completed without it (its deadline is 480 s away): the next wave is offered.
    const status = await describeRollout();
    expect(status.waves[0]).toMatchObject({ offered: 2, updated: 1, failed: 1, completed: true });
    expect(status.wave).toBe(1);
    expect(offeredTo().size).toBeGreaterThan(2);
  });

  test('an offer unanswered past its deadline fails with timeout', async () => {
    await start();
    await slice.drive();
    slice.advance(601_000);
    await slice.drive();
    const failed = await slice.events('DeviceUpdateFailed');
    expect(failed.map((e) => (e.data as { reason: string }).reason)).toEqual(['timeout', 'timeout']);
  });
});
