import {
  UpdateReportMessage,
  encodeFirmwareChunkFrame,
  firmwareChunkFrameSubject,
  type DeviceEnvelope,
} from '@tunnelkey/contracts';
import { chunkPlaintextLength, encryptChunk } from '@tunnelkey/firmware';
import { waitFor } from '@tunnelkey/testing';
import { SimulatedDevice } from '../simulated-device/simulated-device.js';
import { parseFlash, serialiseFlash } from '../simulated-device/device-flash.js';
import { memoryTransport, platformDouble, type PlatformDouble } from '../testing/platform-double.test-helper.js';
import {
  otaDouble,
  sha256Hex,
  testFirmware,
  type OtaDouble,
  type TestRollout,
} from '../testing/ota-platform.test-helper.js';
import type { FirmwareFault } from './firmware-faults.js';

describe('a simulated device updating its firmware over the air', () => {
  let platform: PlatformDouble;
  let transport: ReturnType<typeof memoryTransport>;
  let ota: OtaDouble;
  let device: SimulatedDevice;
  let release: TestRollout;
  let seq = 0;

  const make = (faults: FirmwareFault[] = []) =>
    SimulatedDevice.manufacture({
      seed: `firmware-spec/${seq++}`,
      transport,
      platformKey: platform.pinned,
      firmwareUpdates: { stallMs: 200, offlineMs: 50 },
    }).then((d) => {
      for (const f of faults) d.firmware.faults.add(f);
      return d;
    });
  const update = async (target = device, rollout = release, drop?: (index: number) => boolean) => {
    await ota.offer(target, rollout);
    return ota.serve(target, rollout, drop);
  };

  beforeAll(async () => {
    platform = await platformDouble();
  });
  beforeEach(async () => {
    transport = memoryTransport();
    ota = await otaDouble(platform, transport);
    device = await make();
    release = await ota.rollout({ rolloutId: 'r-1', version: '2.0.0', image: testFirmware(9_000), metadataVersion: 3 });
  });

  describe('given a release for its product, signed by both delegated keys', () => {
    it('downloads into slot B, checks it, boots it and reports the new measurement', async () => {
      const oldMeasurement = device.flash.firmware.measurement;
      const report = await update();
      expect(report).toEqual({
        rolloutId: 'r-1',
        firmwareId: release.firmwareId,
        status: 'booted',
        firmwareVersion: '2.0.0',
        firmwareMeasurement: sha256Hex(release.image),
      });
      expect(device.flash.firmware).toEqual({ version: '2.0.0', measurement: sha256Hex(release.image) });
      expect(device.firmware.slots).toMatchObject({
        active: 'b',
        a: { version: '1.0.0', measurement: oldMeasurement },
        b: { version: '2.0.0', measurement: sha256Hex(release.image) },
        bootCount: 2,
      });
      expect(device.flash.firmwareTrust).toMatchObject({ lastMetadataVersion: 3, delegation: { version: 1 } });
    });

    it('signs every uplink with its enrolment key under strictly increasing counters (the boot report last)', async () => {
      await update();
      const uplinks = await ota.uplinks(device);
      const counters = uplinks.map((e: DeviceEnvelope) => e.counter);
      expect(counters).toEqual([...counters].sort((a, b) => a - b));
      expect(new Set(counters).size).toBe(counters.length);
      expect(uplinks.at(-1)!.kind).toBe(UpdateReportMessage.kind);
    });

    it('asks for its chunks in batches: every chunk asked for once, in fewer requests than chunks', async () => {
      await update();
      const requests = (await ota.uplinks(device))
        .filter((e) => e.kind === 'firmware-chunk-request')
        .map((e) => e.body as { index: number; count?: number });
      const asked = requests.flatMap(({ index, count = 1 }) => Array.from({ length: count }, (_, i) => index + i));
      const { chunkCount } = release.encrypted.header;
      expect(asked).toEqual(Array.from({ length: chunkCount }, (_, i) => i));
      expect(requests.length).toBeLessThan(chunkCount);
    });

    it('survives a reboot mid-life: slots and trust come back from flash', async () => {
      await update();
      const back = parseFlash(serialiseFlash(device.flash));
      expect(back.firmwareSlots).toEqual(device.flash.firmwareSlots);
      expect(back.firmwareTrust).toEqual(device.flash.firmwareTrust);
      expect(back.product).toBe('fridge-x200');
    });

    it('answers an offer of what it already runs with booted again, and a repeated refusal with the same report', async () => {
      await update();
      await ota.offer(device, release);
      expect(await ota.serve(device, release)).toMatchObject({ status: 'booted', firmwareVersion: '2.0.0' });
    });
  });

  describe('refuses, reports why and keeps running its old image', () => {
    const refused = async (faults: FirmwareFault[], rollout?: TestRollout) => {
      const faulty = await make(faults);
      const before = { ...faulty.flash.firmware };
      const report = await update(faulty, rollout ?? release);
      expect(faulty.flash.firmware).toEqual(before);
      expect(report.firmwareMeasurement).toBe(before.measurement);
      expect(report.status).toBe('failed');
      return report;
    };

    it('a wrong ECDSA signature (ML-DSA-65 intact)', async () => {
      expect(await refused(['bad-ecdsa-signature'])).toMatchObject({
        reason: 'signature',
        detail: 'ecdsa-sha2-nistp256',
      });
    });
    it('a wrong ML-DSA-65 signature (ECDSA intact)', async () => {
      expect(await refused(['bad-ml-dsa-signature'])).toMatchObject({ reason: 'signature', detail: 'ml-dsa-65' });
    });
    it('a rollback attempt', async () => {
      expect(await refused(['rollback'])).toMatchObject({ reason: 'rollback' });
    });
    it('expired metadata (freeze attack)', async () => {
      expect(await refused(['expired-metadata'])).toMatchObject({ reason: 'expired', detail: 'metadata' });
    });
    it('a chunk tampered every time it is delivered (after three tries)', async () => {
      expect(await refused(['tampered-chunk'])).toMatchObject({ reason: 'decrypt', detail: 'chunk-1' });
    });
    it("another product's image", async () => {
      const oven = await ota.rollout({ rolloutId: 'r-oven', version: '2.0.0', product: 'oven-z1' });
      expect(await refused([], oven)).toMatchObject({ reason: 'product' });
    });
    it('a content key wrapped for another device', async () => {
      const other = await make();
      await ota.offer(device, release, other);
      const report = await ota.serve(device, release);
      expect(report).toMatchObject({ status: 'failed', reason: 'decrypt', detail: 'key-wrap' });
      expect(device.flash.firmware.version).toBe('1.0.0');
    });
    it('a content key wrapped for the keys it had before an ownership transfer (its new epoch derives others)', async () => {
      const learnedByOldOwner = await ota.deviceKeys(device);
      await device.acknowledgeTransfer({
        transferId: 't-1',
        deviceId: device.deviceId,
        enrolmentKeyDigest: sha256Hex(device.enrolmentPublicKey),
        fromOwnerId: 'acme',
        toOwnerId: 'globex',
        toBatchId: 'globex-fridges',
        ownerEpoch: 1,
      });
      await ota.offer(device, release, learnedByOldOwner);
      expect(await ota.serve(device, release)).toMatchObject({
        status: 'failed',
        reason: 'decrypt',
        detail: 'key-wrap',
      });
      // Wrapped for the keys it reports now (its new epoch's), the next rollout installs.
      const next = await ota.rollout({
        rolloutId: 'r-2',
        version: '2.0.1',
        image: testFirmware(5_000),
        metadataVersion: 4,
      });
      expect(await update(device, next)).toMatchObject({ status: 'booted' });
    });
    it('a chunk frame forged by someone holding the rollout key (another device of it): its tag passes, the digest check refuses the image', async () => {
      const before = { ...device.flash.firmware };
      await ota.offer(device, release);
      const { header } = release.encrypted;
      const forged = encryptChunk(release.contentKey, header, 1, new Uint8Array(chunkPlaintextLength(header, 1)));
      const frame = encodeFirmwareChunkFrame({ rolloutId: release.rolloutId, index: 1, sealed: forged });
      expect(await device.receive(firmwareChunkFrameSubject(device.deviceId), frame)).toBe('handled');
      const report = await ota.serve(device, release);
      expect(report).toMatchObject({ status: 'failed', reason: 'digest', firmwareMeasurement: before.measurement });
      expect(device.flash.firmware).toEqual(before);
    });
    it('a frame that is not a chunk frame, on the chunk subject: refused, the download goes on', async () => {
      await ota.offer(device, release);
      const envelopeLike = new TextEncoder().encode('{"kind":"firmware-chunk"}');
      expect(await device.receive(firmwareChunkFrameSubject(device.deviceId), envelopeLike)).toBe('refused');
      expect(await ota.serve(device, release)).toMatchObject({ status: 'booted' });
    });
    it('metadata older than the last accepted (stale), after an update', async () => {
      await update();
      const older = await ota.rollout({ rolloutId: 'r-2', version: '3.0.0', metadataVersion: 2 });
      expect(await update(device, older)).toMatchObject({ status: 'failed', reason: 'stale-metadata' });
      expect(device.flash.firmware.version).toBe('2.0.0');
    });
  });

  describe('recovers', () => {
    it('a chunk tampered once: asks for it again and installs', async () => {
      const faulty = await make(['tampered-chunk-once']);
      expect(await update(faulty)).toMatchObject({ status: 'booted', firmwareMeasurement: sha256Hex(release.image) });
    });

    it('offline mid-download: resumes from the first unverified chunk, not from zero', async () => {
      const faulty = await make(['offline-mid-download']);
      const report = await update(faulty);
      expect(report).toMatchObject({ status: 'booted', firmwareMeasurement: sha256Hex(release.image) });
      const requests = (await ota.uplinks(faulty))
        .filter((e) => e.kind === 'firmware-chunk-request')
        .map((e) => (e.body as { index: number }).index);
      const half = Math.ceil(release.encrypted.header.chunkCount / 2);
      // Chunk 0 asked exactly once: the resumed download started past it.
      expect(requests.filter((i) => i === 0)).toHaveLength(1);
      expect(requests.filter((i) => i === half).length).toBeGreaterThanOrEqual(1);
      expect(faulty.online).toBe(true);
    });

    it('lost chunk messages: the stall timer asks again from the first missing one', async () => {
      let dropped = false;
      const report = await update(device, release, (index) => {
        if (index !== 2 || dropped) return false;
        dropped = true;
        return true;
      });
      expect(report.status).toBe('booted');
      expect(dropped).toBe(true);
    });

    it('a new rollout while downloading: drops the old download and installs the new release', async () => {
      await ota.offer(device, release);
      expect(device.firmware.download).toMatchObject({ rolloutId: 'r-1', verifiedChunks: 0 });
      const next = await ota.rollout({
        rolloutId: 'r-2',
        version: '2.1.0',
        image: testFirmware(5_000, 9),
        metadataVersion: 4,
      });
      await ota.offer(device, next);
      expect(await ota.serve(device, next)).toMatchObject({
        rolloutId: 'r-2',
        status: 'booted',
        firmwareVersion: '2.1.0',
      });
      expect(device.flash.firmware.measurement).toBe(sha256Hex(next.image));
    });

    it('a bus that fails under a stalled download: the timer keeps asking, and the download completes once it is back', async () => {
      let resumed = 0;
      let failing = false;
      const flaky = {
        publish: (subject: string, data: Uint8Array) => {
          if (failing) throw new Error('bus closed');
          transport.publish(subject, data);
        },
      };
      const faulty = await SimulatedDevice.manufacture({
        seed: `firmware-spec/${seq++}`,
        transport: flaky,
        platformKey: platform.pinned,
        firmwareUpdates: { stallMs: 30 },
        observer: (_, o) => {
          if (o.type === 'firmware' && o.event === 'download-resumed') resumed++;
        },
      });
      await ota.offer(faulty, release);
      failing = true;
      await waitFor(() => resumed >= 2, { description: 'two stall retries on a failing bus' });
      failing = false;
      expect(await ota.serve(faulty, release)).toMatchObject({ status: 'booted' });
    });

    it('a failing boot: falls back to the old slot and reports boot-failed with the old measurement', async () => {
      const faulty = await make(['failing-boot']);
      const old = { ...faulty.flash.firmware };
      const report = await update(faulty);
      expect(report).toMatchObject({
        status: 'failed',
        reason: 'boot-failed',
        firmwareMeasurement: old.measurement,
        firmwareVersion: '1.0.0',
      });
      expect(faulty.firmware.slots).toMatchObject({ active: 'a', b: { version: '2.0.0' }, bootCount: 3 });
      expect(faulty.flash.firmware).toEqual(old);
    });
  });
});
