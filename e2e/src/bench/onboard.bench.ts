/**
 * `npm run bench:onboard -- --devices 5000`
 *
 * Certified devices -> onboarded -> connected -> first telemetry received, on the real platform
 * (registry, CA, onboarding in this process; NATS; a local Mosquitto 2.0.11). Prints devices/s and the
 * p50/p99 latency of each phase, next to the broker's raw mutual-TLS connect rate measured in the
 * same run, on the same broker, with the same certificates and keys (raw: plain mqtt.js clients
 * whose keys were derived beforehand, connecting to the broker where the devices are already
 * authorised), and the ratio fleet / raw (target >= 0.8); and each phase's CPU time per device
 * by process (read from /proc): the platform, the NATS server, the broker, the devices.
 *
 * Phases are run one after the other so each rate is its own: onboarding first (a target
 * certificate per device, no broker work per device), then the raw baseline, then the fleet connects (PUF key derivation + handshake
 * per device) and publishes.
 *
 * Where the work runs: the simulated fleet runs in a process of its own (fleet-process.ts), as
 * devices run apart from the platform; a real device reconstructs its key on its own silicon, so
 * the devices' PUF reads, fuzzy-extractor reconstructions and P-256 derivations run on worker
 * threads (`--hardware-threads`, default cores - 1, at least 1) standing for that silicon, at the lowest CPU priority (nice 19),
 * so they take the cycles the others leave. Both sets of MQTT/TLS clients, raw and fleet, run on
 * the fleet process's main thread (raw-mqtt-clients.ts). Raw clients connect as plain mqtt.js
 * clients do, with a key and a certificate (so they build their TLS context per connection, as the
 * devices do); the fleet differs from raw only by what a device does per connection on top, timed:
 * the key re-derived from the PUF (on a hardware thread) and its first telemetry message.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { OnboardBatch } from '@tunnelkey/contracts';
import { pino } from 'pino';
import { argument, profileDirectory, profiler } from '../support/bench-options.js';
import { log, runBench } from '../support/bench-run.js';
import { OnboardingWatch } from '../support/onboarding-watch.js';
import { percentile } from '../support/percentile.js';
import { cpuRow, cpuSampler } from '../support/process-cpu.js';
import { operator, startPlatform, targetId, until } from '../support/platform.js';
import { ProgressBar } from '../support/progress-bar.js';
import { certifiedBatch, FleetProcess } from './fleet-ipc.js';

interface PhaseResult {
  name: string;
  devices: number;
  seconds: number;
  /** Per-device latency from the phase's start, ms. */
  latencies: number[];
}

const row = (r: PhaseResult) => {
  const sorted = [...r.latencies].sort((a, b) => a - b);
  return `  ${r.name.padEnd(44)} ${String(r.devices).padStart(6)} ${(r.devices / r.seconds).toFixed(1).padStart(10)} ${percentile(sorted, 50).toFixed(0).padStart(9)} ${percentile(sorted, 99).toFixed(0).padStart(9)} ${r.seconds.toFixed(1).padStart(9)}`;
};

runBench({ mosquitto: true }, async ({ nats, namespace, fixture, natsPid, onStop }) => {
  const size = argument('--devices', 1_000);
  const concurrency = argument('--concurrency', 64);
  const hardwareThreads = argument('--hardware-threads', Math.max(1, availableParallelism() - 1));
  const logger = pino({ level: process.env['LOG_LEVEL'] ?? 'warn' });
  const profileDir = profileDirectory();
  const profile = await profiler();
  log(`bench:onboard — ${size} devices, connect concurrency ${concurrency}, NATS ${nats.url}`);
  const p = await startPlatform({ nats: fixture.nc, namespace, logger, telemetryIntervalMs: 30_000 });
  onStop(() => p.stop());
  const w = new OnboardingWatch(fixture.nc, namespace, targetId);
  onStop(() => w.stop());
  const batchId = `bench-${randomBytes(3).toString('hex')}`;
  const f = FleetProcess.start(profileDir ? { profileDir } : {});
  onStop(() => f.stop());
  const connectedAt = new Map<string, number>();
  const firstAckAt = new Map<string, number>();
  let deriveMs = 0;
  f.onLinks((events) => {
    for (const e of events) {
      if (e.type === 'connected' && !connectedAt.has(e.deviceId)) {
        connectedAt.set(e.deviceId, e.at);
        deriveMs += e.deriveMs;
      } else if (e.type === 'first-publish-acked') firstAckAt.set(e.deviceId, e.at);
    }
  });
  let brokerPid: number | undefined = undefined;
  const sample = cpuSampler({ fleet: f.pid, nats: natsPid, broker: () => brokerPid });

  // ---- setup (not measured): certified devices ----
  const setup = new ProgressBar('setup: manufacture, import, verify, certify (not timed)');
  await certifiedBatch(p, f, {
    natsUrl: nats.url,
    namespace,
    batchId,
    size,
    seedBase: `bench-${batchId}`,
    hardwareThreads,
  });
  setup.finish();
  const broker = await p.startBroker();
  brokerPid = broker.pid;
  await operator.registerBroker(p);

  // ---- phase 1: onboarding (OnboardBatch -> connection parameters on the device) ----
  const onboardBar = new ProgressBar('onboard (a target certificate each)');
  const stopOnboardProfile = await profile('onboard');
  const onboardFrom = sample();
  const onboardStart = Date.now();
  // The fleet's count of devices holding their parameters, read every 100 ms: each device's
  // latency is the read that first counted it.
  const onboardLatencies: number[] = [];
  await p.send(OnboardBatch, { batchId });
  await until(
    'devices onboarded',
    async () => (await f.onboarded()) + w.counts.onboardingFailed,
    size,
    (done, total) => {
      const now = Date.now() - onboardStart;
      while (onboardLatencies.length < done) onboardLatencies.push(now);
      onboardBar.update(done, total);
    },
    300_000,
  );
  const onboardTo = sample();
  await stopOnboardProfile();
  if (w.counts.onboardingFailed > 0)
    throw new Error(
      `${w.counts.onboardingFailed} of ${size} devices failed onboarding (DeviceOnboardingFailed in the onboarding log says why)`,
    );
  const onboarding: PhaseResult = {
    name: 'onboarded (OnboardBatch -> parameters on device)',
    devices: size,
    seconds: onboardBar.finish(),
    latencies: onboardLatencies,
  };

  // `--onboard-only`: this phase's figures alone (no connect phases), for measuring onboarding changes.
  if (process.argv.includes('--onboard-only')) {
    const cores = availableParallelism();
    log('');
    log(`bench:onboard --onboard-only — ${size} devices, ${process.platform} ${process.arch}, ${cores} cores`);
    log(row(onboarding));
    log(
      `  CPU ms per device (/proc)  platform | NATS | broker | devices (silicon apart) | all, and share of the ${cores} cores`,
    );
    log(`    onboard      ${cpuRow(onboardFrom, onboardTo, size, onboarding.seconds, cores)}`);
    log(`  onboarding: ${(size / onboarding.seconds).toFixed(1)} devices/s at ${size} devices (target >= 1,000/s)`);
    return;
  }

  // ---- raw baseline: same broker, same certificates, keys derived beforehand ----
  const prepBar = new ProgressBar('raw baseline: deriving keys (not timed)');
  await f.request({ type: 'raw-prepare', targetId }, 'raw-prepared');
  prepBar.finish();
  const rawBar = new ProgressBar('raw mutual-TLS connects (mqtt.js)');
  const stopRawProfile = await profile('raw');
  const rawFrom = sample();
  const rawRun = await f.request({ type: 'raw-connect', concurrency }, 'raw-connected');
  const rawTo = sample();
  await stopRawProfile();
  const rawSeconds = (Math.max(rawRun.started, ...rawRun.connectedAt) - rawRun.started) / 1000;
  rawBar.update(rawRun.connectedAt.length, size);
  rawBar.finish();
  const raw: PhaseResult = {
    name: 'raw: mutual-TLS CONNACK (keys pre-derived)',
    devices: rawRun.connectedAt.length,
    seconds: rawSeconds,
    latencies: rawRun.connectedAt.map((t) => t - rawRun.started),
  };
  // The onboarding service records the raw sessions and their end before the fleet's clock starts:
  // each phase is timed with only its own work on the machine.
  const settleBar = new ProgressBar('raw sessions recorded and closed (not timed)');
  await until(
    'raw connections recorded',
    () => w.counts.connected,
    raw.devices,
    (d, t) => settleBar.update(d, 2 * t),
    120_000,
  );
  await f.request({ type: 'raw-end' }, 'raw-ended');
  await until(
    'raw disconnections recorded',
    () => w.counts.disconnected,
    raw.devices,
    (d, t) => settleBar.update(t + d, 2 * t),
    120_000,
  );
  settleBar.finish();
  w.resetConnections();

  // ---- phase 2+3: the fleet connects (PUF derivation + handshake) and publishes ----
  const connectBar = new ProgressBar('fleet: connect (PUF key + mutual TLS)');
  const stopFleetProfile = await profile('fleet');
  const fleetFrom = sample();
  const fleetStart = Date.now();
  const { started } = await f.request({ type: 'connect', telemetryIntervalMs: 30_000, concurrency }, 'connecting');
  if (started !== size) throw new Error(`the fleet started ${started} of ${size} devices' links`);
  await until(
    'fleet connected',
    () => connectedAt.size,
    size,
    (d, t) => connectBar.update(d, t),
    120_000,
  );
  const fleetTo = sample();
  const fleetConnect: PhaseResult = {
    name: 'fleet: connected (CONNACK, PUF key per device)',
    devices: connectedAt.size,
    seconds: (Math.max(...connectedAt.values()) - fleetStart) / 1000,
    latencies: [...connectedAt.values()].map((t) => t - fleetStart),
  };
  connectBar.finish();
  await stopFleetProfile();
  const recordBar = new ProgressBar('onboarding records connection + telemetry');
  await until(
    'recorded',
    () => Math.min(w.counts.connected, w.counts.firstTelemetry),
    size,
    (d, t) => recordBar.update(d, t),
    120_000,
  );
  recordBar.finish();
  const deviceIds = (await f.request({ type: 'devices' }, 'devices')).deviceIds;
  const since = (m: Map<string, number> | ((id: string) => number | undefined)) =>
    deviceIds
      .map((id) => (typeof m === 'function' ? m(id) : m.get(id)))
      .filter((t): t is number => t !== undefined)
      .map((t) => t - fleetStart);
  const recordedConnected: PhaseResult = {
    name: 'DeviceConnected recorded (broker log)',
    devices: w.counts.connected,
    seconds: Math.max(...since((id) => w.devices.get(id)?.connectedAt)) / 1000,
    latencies: since((id) => w.devices.get(id)?.connectedAt),
  };
  const acked: PhaseResult = {
    name: 'first telemetry acknowledged (PUBACK)',
    devices: firstAckAt.size,
    seconds: Math.max(...since(firstAckAt)) / 1000,
    latencies: since(firstAckAt),
  };
  const firstTelemetry: PhaseResult = {
    name: 'first TelemetryReceived recorded',
    devices: w.counts.firstTelemetry,
    seconds: Math.max(...since((id) => w.devices.get(id)?.firstTelemetryAt)) / 1000,
    latencies: since((id) => w.devices.get(id)?.firstTelemetryAt),
  };
  const fleetStats = await f.request({ type: 'stats' }, 'stats');

  const cores = availableParallelism();
  const rawRate = raw.devices / raw.seconds;
  const fleetRate = fleetConnect.devices / fleetConnect.seconds;
  log('');
  log(
    `bench:onboard — ${size} devices, Mosquitto 2.0.11, connect concurrency ${concurrency}, ${process.platform} ${process.arch}, ${cores} cores, the fleet in its own process with ${hardwareThreads} device-hardware thread(s)${process.platform === 'linux' ? ' at nice 19' : ''}`,
  );
  log(
    `  ${'phase (latency from the phase start)'.padEnd(44)} ${'devices'.padStart(6)} ${'devices/s'.padStart(10)} ${'p50 ms'.padStart(9)} ${'p99 ms'.padStart(9)} ${'total s'.padStart(9)}`,
  );
  for (const r of [onboarding, raw, fleetConnect, recordedConnected, acked, firstTelemetry]) log(row(r));
  log('');
  log(
    `  CPU ms per device (/proc)            platform | NATS | broker | devices (silicon apart) | all, and share of the ${cores} cores`,
  );
  log(`    onboard      ${cpuRow(onboardFrom, onboardTo, size, onboarding.seconds, cores)}`);
  log(`    raw connect  ${cpuRow(rawFrom, rawTo, Math.max(1, raw.devices), raw.seconds, cores)}`);
  log(
    `    fleet connect ${cpuRow(fleetFrom, fleetTo, Math.max(1, fleetConnect.devices), fleetConnect.seconds, cores)}`,
  );
  log('');
  log(
    `  fleet connect rate / raw mutual-TLS connect rate = ${fleetRate.toFixed(1)} / ${rawRate.toFixed(1)} = ${(fleetRate / rawRate).toFixed(2)} (target >= 0.80)${rawRun.failed ? `; raw failures: ${rawRun.failed}` : ''}`,
  );
  log(
    `  PUF key reconstruction on the device-hardware thread(s): ${(deriveMs / Math.max(1, connectedAt.size)).toFixed(1)} ms per device on average, queueing included (a real device does this on its own silicon)`,
  );
  log(
    `  onboarding (a target certificate per device, one broker reload per batch): ${(size / onboarding.seconds).toFixed(1)} devices/s at ${size} devices (target >= 1,000/s)`,
  );
  log(`  failures by reason: ${JSON.stringify(fleetStats.mqtt.failuresByReason)}`);
});
