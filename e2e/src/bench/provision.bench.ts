/**
 * `npm run bench:provision -- --devices 10000`   (default PROVISION_DEVICES, else 10,000)
 *
 * Provisioning on the real platform, phase by phase: import the manufacturer's identity file ->
 * verify every identity (challenge-response) -> certify (CSR -> certificate), and end to end. The
 * registry and the CA run in this process; NATS is the server on NATS_URL (or one started here);
 * the simulated devices run in a child process (fleet-process.ts) with their PUF work on
 * `--hardware-threads` silicon threads at nice 19, standing for the chips that do it themselves.
 *
 * What it prints, and where each figure comes from:
 * - devices/s per phase and end to end, from the operator's command to the registry counting the
 *   last device (its batch summary);
 * - p50/p99 per device, from the phase's start to the `occurredAt` of the device's own event in the
 *   registry log (IdentityVerified, DeviceCertified), read back after the run;
 * - CPU time per device, from the kernel's accounting (/proc, utime + stime) at the phase
 *   boundaries: the platform's (this process + the NATS server) apart from the devices' (the
 *   fleet process; its nice-19 silicon threads apart from the rest);
 * - write system calls of this process per device (/proc/<pid>/io syscw): each is a loopback send
 *   whose delivery the kernel charges partly here, and the count falls with every message saved;
 *   it also falls when the machine is busy (more messages go out per write), so compare runs at
 *   similar load;
 * - the CA core's raw issuing rate on this machine, measured in the same run (`bench:pki`).
 *
 * `--profile DIR` writes this process's CPU profile of each phase (DIR/<phase>.cpuprofile), and the
 * fleet process's profile of its whole run (DIR/CPU.*.cpuprofile).
 * `--restart` then restarts the registry and the CA on the log the run left (as pods restarting) and
 * prints how long each took to be ready (views rebuilt), and the process's memory after both.
 * `--count-messages` counts every NATS message per phase by the shape of its subject (a diagnosis:
 * the counting subscription costs the server and this process too).
 */
import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CertifyDevices, VerifyIdentity } from '@tunnelkey/contracts';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { argument, profileDirectory, profiler } from '../support/bench-options.js';
import { log, runBench } from '../support/bench-run.js';
import { percentile } from '../support/percentile.js';
import { operator, startPlatform, until } from '../support/platform.js';
import { processCpuByPriority, processCpuMs, processWriteCalls } from '../support/process-cpu.js';
import { ProgressBar } from '../support/progress-bar.js';
import { FleetProcess } from './fleet-ipc.js';

interface CpuSample {
  platformMs: number;
  natsMs: number;
  /** Write system calls of this process (registry + CA): each one is a loopback send the kernel charges here. */
  writes: number;
  silicon: number;
  deviceRest: number;
}

interface Phase {
  name: string;
  seconds: number;
  /** Per-device latency from the phase's start, ms (none for the bulk import). */
  latencies: number[];
  from: CpuSample;
  to: CpuSample;
}

async function rawIssuingRate(): Promise<string[]> {
  const script = fileURLToPath(new URL('../../../libs/pki/dist/bench/pki.bench.js', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, [script, '--certs', '2000', '--concurrency', '16']);
  return stdout.trim().split('\n');
}

/** Every message on the bus, by subject shape (ids and tokens replaced by *). */
function countMessages(nc: NatsConnection): Map<string, number> {
  const counts = new Map<string, number>();
  nc.subscribe('>', {
    callback: (_error, msg) => {
      const tokens = msg.subject.split('.');
      const shape =
        tokens[0] === '_INBOX'
          ? '_INBOX.>'
          : tokens
              .map((token, i) => (i > 0 && (token.length > 12 || /\d/.test(token)) ? '*' : token))
              .slice(0, tokens[0] === '$JS' ? 4 : 6)
              .join('.');
      counts.set(shape, (counts.get(shape) ?? 0) + 1);
    },
  });
  return counts;
}

function describeCounts(counts: Map<string, number>, size: number): string {
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const rows = [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([shape, n]) => `    ${(n / size).toFixed(2).padStart(7)}  ${shape}`);
  return [`  NATS messages per device: ${(total / size).toFixed(2)}`, ...rows].join('\n');
}

runBench({ mosquitto: false }, async ({ nats, namespace, fixture, natsPid, onStop }) => {
  const size = argument('--devices', Number(process.env['PROVISION_DEVICES'] ?? 10_000));
  const hardwareThreads = argument('--hardware-threads', Math.max(1, availableParallelism() - 1));
  const logger = pino({ level: process.env['LOG_LEVEL'] ?? 'warn' });
  const profile = await profiler();
  log(
    `bench:provision — ${size} devices, fleet in its own process with ${hardwareThreads} silicon thread(s) at nice 19, NATS ${nats.url}${natsPid ? ` (pid ${natsPid})` : ' (pid not visible: its CPU is not counted)'}`,
  );
  const p = await startPlatform({ nats: fixture.nc, namespace, logger, onboarding: false });
  onStop(() => p.stop());
  const batchId = `bench-${randomBytes(3).toString('hex')}`;

  const manufactured = new ProgressBar('manufacture + enrol (not timed)');
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

  const sample = (): CpuSample => {
    const devices = processCpuByPriority(f.pid);
    return {
      platformMs: processCpuMs(process.pid),
      writes: processWriteCalls(process.pid),
      natsMs: natsPid ? processCpuMs(natsPid) : 0,
      silicon: devices.background,
      deviceRest: devices.normal,
    };
  };
  const phases: Phase[] = [];
  const summary = () => p.registry.readModel.batchSummary(batchId)?.byStatus;
  const counts = process.argv.includes('--count-messages') ? countMessages(fixture.nc) : undefined;
  const run = async (name: string, work: (bar: ProgressBar) => Promise<void>): Promise<number> => {
    const bar = new ProgressBar(name);
    counts?.clear();
    const stopProfile = await profile(name.split(' ')[0]!);
    const from = sample();
    const startedAt = Date.now();
    await work(bar);
    const to = sample();
    await stopProfile();
    phases.push({ name, seconds: bar.finish(), latencies: [], from, to });
    if (counts) log(describeCounts(counts, size));
    return startedAt;
  };

  const importStart = await run('import', async (bar) => {
    const report = await operator.importIdentities(p, { identityFile: () => identityFileJson }, batchId, (d, t) =>
      bar.update(d, t),
    );
    if (report.accepted !== size)
      throw new Error(`imported ${report.accepted} of ${size} (${report.rejected} rejected)`);
  });
  const verifyStart = await run('verify', async (bar) => {
    await p.send(VerifyIdentity, { scope: { kind: 'batch', batchId } });
    await until(
      'identities verified',
      () => summary()?.Verified ?? 0,
      size,
      (d, t) => bar.update(d, t),
    );
  });
  const certifyStart = await run('certify', async (bar) => {
    await p.send(CertifyDevices, { scope: { kind: 'batch', batchId }, keyId: 'tls-0' });
    await until(
      'devices certified',
      () => summary()?.Certified ?? 0,
      size,
      (d, t) => bar.update(d, t),
    );
    // The registry may count a certificate a moment before its device holds it.
    const held = async () => (await f.request({ type: 'stats' }, 'stats')).byState['certified'] ?? 0;
    await until('certificates held by the devices', held, size, undefined, 10_000);
  });

  // Per-device times, from the registry's own events (not timed: read after the run).
  const occurred = { IdentityVerified: new Map<string, number>(), DeviceCertified: new Map<string, number>() };
  const store = new JetStreamEventStore(fixture.nc, { namespace, logger });
  await store.replay('registry', ({ event }) => {
    const into = occurred[event.type as keyof typeof occurred];
    if (into) into.set(event.aggregateId, Date.parse(event.occurredAt));
  });
  phases[1]!.latencies = [...occurred.IdentityVerified.values()].map((t) => t - verifyStart);
  phases[2]!.latencies = [...occurred.DeviceCertified.values()].map((t) => t - certifyStart);
  const endToEnd: Phase = {
    name: 'end to end (import -> certified)',
    seconds: phases.reduce((sum, ph) => sum + ph.seconds, 0),
    latencies: [...occurred.DeviceCertified.values()].map((t) => t - importStart),
    from: phases[0]!.from,
    to: phases[2]!.to,
  };

  const restarts: string[] = [];
  if (process.argv.includes('--restart')) {
    for (const service of ['registry', 'ca'] as const) {
      const stopProfile = await profile(`restart-${service}`);
      const { readyMs } = await p.restart(service);
      await stopProfile();
      restarts.push(`  ${service.padEnd(9)} ready ${(readyMs / 1000).toFixed(2)} s after its restart`);
    }
    (globalThis as { gc?: () => void }).gc?.();
    const { rss, heapUsed } = process.memoryUsage();
    const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
    restarts.push(
      `  memory of the process holding both (after a full GC): rss ${mib(rss)}, heap used ${mib(heapUsed)}`,
    );
  }
  const raw = await rawIssuingRate();
  const perDevice = (ms: number) => (ms / size).toFixed(3).padStart(8);
  const lines = [...phases, endToEnd].map((ph) => {
    const sorted = [...ph.latencies].sort((a, b) => a - b);
    const lat = sorted.length
      ? `${percentile(sorted, 50).toFixed(0).padStart(7)} ${percentile(sorted, 99).toFixed(0).padStart(7)}`
      : `${'-'.padStart(7)} ${'-'.padStart(7)}`;
    const platformMs = ph.to.platformMs - ph.from.platformMs + (ph.to.natsMs - ph.from.natsMs);
    const servicesMs = ph.to.platformMs - ph.from.platformMs;
    const natsMs = ph.to.natsMs - ph.from.natsMs;
    const silicon = ph.to.silicon - ph.from.silicon;
    const rest = ph.to.deviceRest - ph.from.deviceRest;
    const writes = ((ph.to.writes - ph.from.writes) / size).toFixed(2).padStart(7);
    return `  ${ph.name.padEnd(34)} ${ph.seconds.toFixed(2).padStart(8)} ${(size / ph.seconds).toFixed(0).padStart(8)} ${lat} ${perDevice(platformMs)} ${perDevice(servicesMs)} ${perDevice(natsMs)} ${perDevice(silicon + rest)} ${perDevice(silicon)} ${writes}`;
  });
  process.stdout.write(
    [
      '',
      `bench:provision — ${size} devices (${availableParallelism()} cores, node ${process.version})`,
      '  per device: p50/p99 in ms from the phase start; CPU in ms, from /proc (utime + stime)',
      `  ${'phase'.padEnd(34)} ${'seconds'.padStart(8)} ${'dev/s'.padStart(8)} ${'p50'.padStart(7)} ${'p99'.padStart(7)} ${'platform'.padStart(8)} ${'services'.padStart(8)} ${'nats'.padStart(8)} ${'devices'.padStart(8)} ${'silicon'.padStart(8)} ${'writes'.padStart(7)}`,
      ...lines,
      '  platform = services (registry + CA, this process) + nats (the NATS server); devices = the fleet process, of which silicon = its nice-19 PUF threads; writes = write system calls of the services per device',
      ...(restarts.length ? ['', `restart on the log of ${size} provisioned devices:`, ...restarts] : []),
      '',
      'raw issuing ceiling on this machine, same run (npm run bench:pki):',
      ...raw.map((l) => `  ${l}`),
      '',
    ].join('\n'),
  );
});
