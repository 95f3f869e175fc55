/**
 * `npm run bench:restart -- --devices 10000`   (default RESTART_DEVICES, else 10,000)
 *
 * Start-up at scale: provisions N devices on the real platform (import -> verify -> certify, as
 * `bench:provision` does, not timed here) and onboards them to a local Mosquitto (each device
 * issued its target certificate and holding its connection parameters; `--no-onboard` skips it),
 * then restarts each service in turn on the log that run left, as a pod restart would, and prints the time from start to ready (every view rebuilt: what
 * /ready reports) and the memory of the process. Each service is restarted twice:
 * - from the log: its view checkpoints deleted first, so every view folds the whole log (what a
 *   start costs without checkpoints, or with an incompatible checkpoint version);
 * - from its checkpoints: what the stop before saved, plus the tail of the log after it.
 *
 * The registry, the CA and onboarding run in this one process (as in bench:provision): the memory
 * printed is the process's (after a full GC), holding all three, not one service's. The devices do
 * not connect (their connections would add DeviceConnected and telemetry counters to onboarding's
 * log, not to its views' size). `--profile DIR` writes this process's CPU profile of each restart
 * (DIR/restart-<service>-<from>.cpuprofile).
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { KvSnapshotStore } from '@tunnelkey/eventstore-jetstream';
import { pino } from 'pino';
import { argument, profileDirectory, profiler } from '../support/bench-options.js';
import { log, runBench } from '../support/bench-run.js';
import { OnboardBatch } from '@tunnelkey/contracts';
import { operator, startPlatform, until } from '../support/platform.js';
import { ProgressBar } from '../support/progress-bar.js';
import { FleetProcess } from './fleet-ipc.js';

const services = ['registry', 'ca', 'onboarding'] as const;
/** A batch command answers once every device is asked: minutes at 100,000 devices. */
const commandTimeoutMs = 15 * 60_000;
type Service = (typeof services)[number];

/** Deletes a service's view checkpoints (`<context>.view.*` in the snapshots bucket): its next start folds the whole log. */
async function deleteViewCheckpoints(nc: NatsConnection, namespace: string, service: Service): Promise<number> {
  const kv = await new Kvm(nc).open(KvSnapshotStore.bucketName({ namespace }));
  const keys: string[] = [];
  for await (const key of await kv.keys(`${service}.view.>`)) keys.push(key);
  for (const key of keys) await kv.purge(key);
  return keys.length;
}

function memory(): { rss: number; heapUsed: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heapUsed };
}

runBench({ mosquitto: !process.argv.includes('--no-onboard') }, async ({ nats, namespace, fixture, onStop }) => {
  const size = argument('--devices', Number(process.env['RESTART_DEVICES'] ?? 10_000));
  const hardwareThreads = argument('--hardware-threads', Math.max(1, availableParallelism() - 1));
  const logger = pino({ level: process.env['LOG_LEVEL'] ?? 'warn' });
  const profile = await profiler();
  log(`bench:restart — ${size} devices, NATS ${nats.url}`);
  const p = await startPlatform({ nats: fixture.nc, namespace, logger });
  onStop(() => p.stop());
  const batchId = `bench-${randomBytes(3).toString('hex')}`;

  // The history: N devices imported, verified and certified (not timed).
  const historyStarted = performance.now();
  const manufactured = new ProgressBar('manufacture + enrol');
  const fleetProfileDir = profileDirectory();
  const f = FleetProcess.start(fleetProfileDir ? { profileDir: fleetProfileDir } : {});
  onStop(() => f.stop());
  const identityFileJson = await f.manufacture({
    natsUrl: nats.url,
    namespace,
    size,
    seedBase: `bench-${batchId}`,
    platformPublicKeySpki: p.platformPublicKeySpki,
    hardwareThreads,
  });
  manufactured.finish();
  await operator.defineBatch(p, batchId, size);
  const importing = new ProgressBar('import');
  const report = await operator.importIdentities(p, { identityFile: () => identityFileJson }, batchId, (d, t) =>
    importing.update(d, t),
  );
  if (report.accepted !== size) throw new Error(`imported ${report.accepted} of ${size} (${report.rejected} rejected)`);
  importing.finish();
  const verifying = new ProgressBar('verify');
  await operator.verify(p, batchId, size, (d, t) => verifying.update(d, t), commandTimeoutMs);
  verifying.finish();
  const certifying = new ProgressBar('certify');
  await operator.certify(p, batchId, size, (d, t) => certifying.update(d, t), commandTimeoutMs);
  certifying.finish();
  const onboard = !process.argv.includes('--no-onboard');
  if (onboard) {
    const onboarding = new ProgressBar('onboard (a target certificate each)');
    await p.startBroker();
    await operator.registerBroker(p);
    await p.send(OnboardBatch, { batchId }, commandTimeoutMs);
    const configured = () => f.onboarded();
    await until('devices onboarded', configured, size, (d, t) => onboarding.update(d, t), 600_000);
    onboarding.finish();
  }
  // The devices are not needed for the restarts: their process goes, its memory with it.
  await f.stop();
  const historySeconds = (performance.now() - historyStarted) / 1000;
  const streams = await jetstreamManager(fixture.nc);
  const logSizes: string[] = [];
  for (const context of ['REGISTRY', 'CA', 'ONBOARDING']) {
    const info = await streams.streams.info(`${namespace.toUpperCase()}_${context}`).catch(() => undefined);
    if (info) logSizes.push(`${context} ${info.state.messages} events`);
  }

  const rows: string[] = [];
  const before = memory();
  for (const service of services) {
    for (const from of ['log', 'checkpoint'] as const) {
      const stopProfile = await profile(`restart-${service}-${from}`);
      // The stop saves the views' checkpoints: from the log, they are deleted before the start.
      const nc = fixture.nc;
      const { readyMs } = await p.restart(
        service,
        from === 'log' ? { beforeStart: () => deleteViewCheckpoints(nc, namespace, service) } : {},
      );
      await stopProfile();
      const { rss, heapUsed } = memory();
      rows.push(
        `  ${service.padEnd(11)} ${`from the ${from}`.padEnd(20)} ${(readyMs / 1000).toFixed(2).padStart(8)} ${mib(rss).padStart(9)} ${mib(heapUsed).padStart(9)}`,
      );
    }
  }
  process.stdout.write(
    [
      '',
      `bench:restart — ${size} provisioned devices (${availableParallelism()} cores, node ${process.version})`,
      `  history: ${size} devices imported, verified, certified${onboard ? ', onboarded to a broker' : ' (not onboarded: --no-onboard)'} in ${historySeconds.toFixed(0)} s; log: ${logSizes.join(', ')}`,
      `  process memory before the restarts (after a full GC): rss ${mib(before.rss)}, heap used ${mib(before.heapUsed)}`,
      `  ${'service'.padEnd(11)} ${'restart'.padEnd(20)} ${'ready s'.padStart(8)} ${'rss'.padStart(9)} ${'heap'.padStart(9)}`,
      ...rows,
      '  ready s: from the start of the new instance to ready (every view rebuilt, what /ready reports)',
      '  rss / heap: this process after the restart and a full GC; registry, CA and onboarding share it (not one service each)',
      '',
    ].join('\n'),
  );
});

const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
