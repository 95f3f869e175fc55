/**
 * `npm run bench:ota -- --devices 1000 --image-kib 1024`
 *
 * A rollout on the real platform (registry, CA and the OTA service in-process; NATS): certified
 * simulated PUF devices (their PUF reads on `--hardware-threads` silicon threads), one image, three
 * waves (5 %, 25 %, 100 %). Prints, per wave, devices/s from offer to healthy boot report; p50/p99
 * offer -> healthy; the hybrid signing time of the release (ECDSA P-256 + ML-DSA-65); the
 * per-device key-wrap time (ECDH P-256 + ML-KEM-768); the encrypted bytes delivered per second
 * next to a raw object-store read rate of the same encrypted image measured in the same run, and
 * their ratio (target >= 0.5); and the whole rollout's time (target < 60 s).
 */
import 'reflect-metadata';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { Objm } from '@nats-io/obj';
import { connectNats } from '@tunnelkey/config';
import {
  DescribeRollout,
  RegisterFirmware,
  RegisterFirmwareProduct,
  StartRollout,
  firmwareImageBucket,
  type EventEnvelope,
  type ResultOf,
} from '@tunnelkey/contracts';
import { createFleet, type Fleet } from '@tunnelkey/device-fleet';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import { encryptedImageName, startOta, type RunningOta } from '@tunnelkey/ota';
import { Kek } from '@tunnelkey/pki';
import { natsFixture, type NatsFixture } from '@tunnelkey/testing';
import { pino } from 'pino';
import { argument } from '../support/bench-options.js';
import { useOrStartNats, type NatsServer } from '../support/infrastructure.js';
import { percentile } from '../support/percentile.js';
import { operator, startPlatform, type Platform } from '../support/platform.js';

const log = (line = '') => process.stderr.write(`${line}\n`);
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mib = (bytes: number) => bytes / (1024 * 1024);

async function main(): Promise<void> {
  const size = argument('--devices', 1000);
  const imageKib = argument('--image-kib', 1024);
  const hardwareThreads = argument('--hardware-threads', Math.max(1, availableParallelism() - 1));
  const logger = pino({ level: process.env['LOG_LEVEL'] ?? 'warn' });
  let nats: NatsServer | undefined;
  let fixture: NatsFixture | undefined;
  let platform: Platform | undefined;
  let fleet: Fleet | undefined;
  let ota: RunningOta | undefined;
  let store: JetStreamEventStore | undefined;
  try {
    nats = await useOrStartNats(log);
    fixture = natsFixture({ url: nats.url, prefix: 'otabench' });
    await fixture.setup();
    const { namespace } = fixture;
    log(`bench:ota — ${size} devices, a ${imageKib} KiB image, waves 5/25/100 %, ${hardwareThreads} silicon thread(s)`);
    platform = await startPlatform({ nats: fixture.nc, namespace, logger, onboarding: false });
    store = new JetStreamEventStore(fixture.nc, { namespace });
    const batchId = `bench-${randomUUID().slice(0, 8)}`;
    fleet = await createFleet({
      nats: fixture.nc,
      namespace,
      size,
      seedBase: `ota-bench-${batchId}`,
      platformPublicKey: platform.platformPublicKeySpki,
      hardwareThreads,
      firmwareKeysAtEnrolment: false,
    });
    log('provisioning (not timed): import, verify, certify');
    await operator.defineBatch(platform, batchId, size);
    await operator.importIdentities(platform, fleet, batchId);
    await operator.verify(platform, batchId, size, undefined, 300_000);
    await operator.certify(platform, batchId, size, undefined, 300_000);
    const otaNc = await connectNats({ servers: nats.url, name: 'ota-bench' });
    ota = await startOta({
      nats: otaNc,
      namespace,
      platformKey: platform.platformKey,
      kek: await Kek.fromBytes(randomBytes(32)),
      logger,
      env: {},
      config: { httpPort: 0, tickMs: 100, offerRetryMs: 5_000, keysWaitMs: 30_000, deadlineSeconds: 300 },
    });
    const image = new Uint8Array(randomBytes(imageKib * 1024));
    const objects = await new Objm(fixture.nc).create(firmwareImageBucket(namespace), { storage: 'file' });
    await objects.putBlob({ name: 'upload-bench' }, image);
    await platform.send(RegisterFirmwareProduct, {
      product: 'fridge-x200',
      name: 'Fridge X200',
      baselineVersion: '1.0.0',
    });
    await platform.send(RegisterFirmware, {
      firmwareId: 'bench-2-0-0',
      product: 'fridge-x200',
      version: '2.0.0',
      imageDigest: sha256(image),
      sizeBytes: image.length,
      objectName: 'upload-bench',
    });
    const signingMs = ota.firmware.lastSigningMs;
    const rolloutId = `bench-${randomUUID().slice(0, 8)}`;
    const bytesBefore = ota.chunks.bytesServed;
    const started = performance.now();
    const reply = await platform.send<{ deviceCount: number; excluded: number }>(
      StartRollout,
      {
        rolloutId,
        firmwareId: 'bench-2-0-0',
        batchIds: [batchId],
        waves: [{ percent: 5 }, { percent: 25 }, { percent: 100 }],
        maxFailurePercent: 100,
      },
      120_000,
    );
    const startReplyMs = performance.now() - started;
    log(
      `rollout ${rolloutId}: ${reply.deviceCount} devices (${reply.excluded} excluded); start took ${(startReplyMs / 1000).toFixed(1)} s`,
    );
    let status: ResultOf<typeof DescribeRollout>;
    let lastLine = '';
    for (;;) {
      status = await platform.send<ResultOf<typeof DescribeRollout>>(DescribeRollout, { rolloutId });
      const line = `  wave ${status.wave}: ${status.updated + status.failed}/${status.deviceCount} (${status.failed} failed)`;
      if (line !== lastLine) log(line);
      lastLine = line;
      if (status.status !== 'running') break;
      await sleep(500);
    }
    const rolloutMs = performance.now() - started;
    const bytesSent = ota.chunks.bytesServed - bytesBefore;
    const chunksSent = ota.chunks.chunksServed;
    const chunkRequests = fleet.stats().sentByKind['firmware-chunk-request'] ?? 0;

    // Timings from the log: offer -> applied per device, per wave.
    const events: EventEnvelope[] = [];
    await store.replay('ota', (r) => void events.push(r.event));
    const offered = new Map<string, { at: number; wave: number }>();
    const applied = new Map<string, number>();
    for (const e of events) {
      const data = e.data as { rolloutId?: string; wave?: number };
      if (data.rolloutId !== rolloutId) continue;
      if (e.type === 'DeviceUpdateOffered')
        offered.set(e.aggregateId, { at: Date.parse(e.occurredAt), wave: data.wave! });
      if (e.type === 'DeviceUpdateApplied') applied.set(e.aggregateId, Date.parse(e.occurredAt));
    }
    const latencies = [...applied].map(([id, at]) => at - offered.get(id)!.at).sort((a, b) => a - b);

    // The raw rate: the same encrypted image read back from the object store, in this run.
    const encrypted = encryptedImageName(rolloutId);
    const rawStarted = performance.now();
    let rawBytes = 0;
    const reads = 20;
    for (let i = 0; i < reads; i++) rawBytes += (await objects.getBlob(encrypted))?.length ?? 0;
    const rawSeconds = (performance.now() - rawStarted) / 1000;
    const rawRate = mib(rawBytes) / rawSeconds;
    // Delivered = each updated device's copy of the encrypted image, once: a chunk sent twice
    // (a device asking again after a stall) is work, not delivery, and is shown apart.
    const bytesDelivered = status.updated * (rawBytes / reads);
    const deliveryRate = mib(bytesDelivered) / (rolloutMs / 1000);

    log('');
    log(
      `bench:ota — ${size} devices, ${imageKib} KiB image, ${status.status}: ${status.updated} updated, ${status.failed} failed`,
    );
    for (let wave = 0; wave < status.waves.length; wave++) {
      const members = [...offered].filter(([, o]) => o.wave === wave);
      const from = Math.min(...members.map(([, o]) => o.at));
      const to = Math.max(...members.map(([id]) => applied.get(id) ?? 0));
      const seconds = (to - from) / 1000;
      log(
        `  wave ${wave} (${status.waves[wave]!.percent} %): ${members.length} devices in ${seconds.toFixed(2)} s = ${(members.length / seconds).toFixed(0)} devices/s`,
      );
    }
    log(`  offer -> healthy boot report: p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms`);
    log(`  hybrid release signing (ECDSA P-256 + ML-DSA-65): ${signingMs.toFixed(1)} ms`);
    log(
      `  per-device key wrap (ECDH P-256 + ML-KEM-768): ${(ota.driver.wraps.ms / Math.max(1, ota.driver.wraps.count)).toFixed(2)} ms (${ota.driver.wraps.count} wraps)`,
    );
    log(
      `  delivered ${mib(bytesDelivered).toFixed(0)} MiB at ${deliveryRate.toFixed(1)} MiB/s; raw object-store read of the same image ${rawRate.toFixed(1)} MiB/s; ratio ${(deliveryRate / rawRate).toFixed(2)} (target >= 0.5)`,
    );
    log(
      `  sent ${mib(bytesSent).toFixed(0)} MiB in ${chunksSent} chunk frames for ${chunkRequests} signed chunk requests (${((100 * (bytesSent - bytesDelivered)) / Math.max(1, bytesDelivered)).toFixed(1)} % sent again after stalls)`,
    );
    log(`  whole rollout: ${(rolloutMs / 1000).toFixed(1)} s (target < 60 s)`);
    log(
      `  load average: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} (${availableParallelism()} cores)`,
    );
    await ota.stop().catch(() => undefined);
    ota = undefined;
    await otaNc.close().catch(() => undefined);
  } finally {
    await fleet?.stop().catch(() => undefined);
    await ota?.stop().catch(() => undefined);
    store?.close();
    await platform?.stop().catch(() => undefined);
    await fixture?.teardown().catch(() => undefined);
    await nats?.stop().catch(() => undefined);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    log(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
