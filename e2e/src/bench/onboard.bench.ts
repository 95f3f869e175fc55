/**
 * `npm run bench:onboard -- --devices 5000`
 *
 * Certified devices -> onboarded -> connected -> first telemetry received, on the real platform
 * (registry, CA, onboarding in-process; NATS; a local Mosquitto 2.0.11). Prints devices/s and the
 * p50/p99 latency of each phase, next to the broker's raw mutual-TLS connect rate measured in the
 * same run, on the same broker, with the same certificates and keys (raw: plain mqtt.js clients
 * whose keys were derived beforehand, connecting to the broker where the devices are already
 * authorised), and the ratio fleet / raw (target >= 0.8).
 *
 * Phases are run one after the other so each rate is its own: onboarding first (a target
 * certificate per device, no broker work per device), then the raw baseline, then the fleet connects (PUF key derivation + handshake
 * per device) and publishes.
 *
 * Where the work runs (one process, shared with the platform): a real device reconstructs its key
 * on its own silicon, so the simulated devices' PUF reads, fuzzy-extractor reconstructions and
 * P-256 derivations run on `--hardware-threads` worker threads (default cores - 1, at least 1)
 * standing for that silicon; they still share the machine's cores with the broker and the
 * platform, at the lowest CPU priority (nice 19 on Linux), so they take the cycles the others
 * leave. Both sets of MQTT/TLS clients, raw and fleet, run on the main thread, next to the
 * platform. Raw clients connect as plain mqtt.js clients do, with a key and a certificate (so they
 * build their TLS context per connection, as the devices do); the fleet differs from raw only by
 * what a device does per connection on top, timed: the key re-derived from the PUF (on a hardware
 * thread) and its first telemetry message.
 */
import 'reflect-metadata';
import { KeyObject, randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { ConcurrencyLimiter } from '@tunnelkey/concurrency';
import { createFleet } from '@tunnelkey/device-fleet';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { argument, profiler } from '../support/bench-options.js';
import { log, runBench } from '../support/bench-run.js';
import { OnboardingWatch } from '../support/onboarding-watch.js';
import { percentile } from '../support/percentile.js';
import { operator, startPlatform, targetId, until } from '../support/platform.js';
import { ProgressBar } from '../support/progress-bar.js';

/**
 * A full garbage collection before a timed phase (the script runs node with --expose-gc), so a
 * phase does not pay for collecting what the one before it left: 5,000 ended raw clients, for one.
 */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

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

runBench({ mosquitto: true }, async ({ nats, namespace, fixture, onStop }) => {
  const size = argument('--devices', 1_000);
  const concurrency = argument('--concurrency', 64);
  const hardwareThreads = argument('--hardware-threads', Math.max(1, availableParallelism() - 1));
  const logger = pino({ level: process.env['LOG_LEVEL'] ?? 'warn' });
  const profile = await profiler();
  log(`bench:onboard — ${size} devices, connect concurrency ${concurrency}, NATS ${nats.url}`);
  const p = await startPlatform({ nats: fixture.nc, namespace, logger, telemetryIntervalMs: 30_000 });
  onStop(() => p.stop());
  const w = new OnboardingWatch(fixture.nc, namespace, targetId);
  onStop(() => w.stop());
  const batchId = `bench-${randomBytes(3).toString('hex')}`;

  // ---- setup (not measured): certified devices ----
  const bar = new ProgressBar('setup: manufacture, import, verify, certify');
  const f = await createFleet({
    nats: fixture.nc,
    namespace,
    size,
    seedBase: `bench-${batchId}`,
    platformPublicKey: p.platformPublicKeySpki,
    hardwareThreads,
  });
  onStop(() => f.stop());
  await operator.defineBatch(p, batchId, size);
  await operator.importIdentities(p, f, batchId);
  await operator.verify(p, batchId, size, (d, t) => bar.update(d, 2 * t));
  await operator.certify(p, batchId, size, (d, t) => bar.update(t + d, 2 * t));
  bar.finish();
  await p.startBroker();
  await operator.registerBroker(p);

  // ---- phase 1: onboarding (OnboardBatch -> connection parameters on the device) ----
  const onboardBar = new ProgressBar('onboard (a target certificate each)');
  const stopOnboardProfile = await profile('onboard');
  const onboardStart = Date.now();
  const onboardedAt = new Map<string, number>();
  const poll = setInterval(() => {
    for (const device of f.devices())
      if (!onboardedAt.has(device.deviceId) && device.flash.connections[targetId])
        onboardedAt.set(device.deviceId, Date.now());
    // Every 100 ms: polling 10,000 devices every 20 ms took 6 % of the thread the platform runs on.
  }, 100);
  await operator.onboard(
    p,
    f,
    batchId,
    size,
    (d, t) => onboardBar.update(d, t),
    () => w.counts.onboardingFailed,
  );
  clearInterval(poll);
  await stopOnboardProfile();
  for (const device of f.devices()) if (!onboardedAt.has(device.deviceId)) onboardedAt.set(device.deviceId, Date.now());
  const onboarding: PhaseResult = {
    name: 'onboarded (OnboardBatch -> parameters on device)',
    devices: size,
    seconds: onboardBar.finish(),
    latencies: [...onboardedAt.values()].map((t) => t - onboardStart),
  };

  // ---- raw baseline: same broker, same certificates, keys derived beforehand ----
  // A plain mqtt.js client as any MQTT/TLS client connects: a key file and a certificate file
  // (here the device's PUF key, derived before the clock starts, as PKCS#8 PEM in memory only).
  const prepBar = new ProgressBar('raw baseline: deriving keys (not timed)');
  const paramsOf = (d: {
    flash: {
      connections: Record<
        string,
        {
          endpoint: { host: string; port: number };
          clientId: string;
          serverCaPem?: string;
          clientCertificatePem?: string;
        }
      >;
    };
  }) => d.flash.connections[targetId];
  const clients: {
    clientId: string;
    key: string;
    cert: string;
    parameters: NonNullable<ReturnType<typeof paramsOf>>;
  }[] = [];
  for (const device of f.devices()) {
    const parameters = paramsOf(device)!;
    const key = await device.withKeys(
      ['tls-0'],
      async (keys) => KeyObject.from(keys.get('tls-0')!.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string,
    );
    clients.push({
      clientId: parameters.clientId,
      key,
      // The target certificate its onboarding issued (the broker trusts only the target's CA).
      cert: parameters.clientCertificatePem ?? device.flash.certificates['tls-0']!.certificatePem,
      parameters,
    });
    prepBar.update(clients.length, size);
  }
  prepBar.finish();
  collectGarbage();
  const rawBar = new ProgressBar('raw mutual-TLS connects (mqtt.js)');
  const limiter = new ConcurrencyLimiter(concurrency);
  const rawClients: MqttClient[] = [];
  const rawLatencies: number[] = [];
  const stopRawProfile = await profile('raw');
  const rawStart = Date.now();
  let rawFailed = 0;
  await Promise.all(
    clients.map((c) =>
      limiter.run(
        () =>
          new Promise<void>((resolve) => {
            const options: IClientOptions = {
              protocol: 'mqtts',
              host: c.parameters.endpoint.host,
              port: c.parameters.endpoint.port,
              clientId: c.clientId,
              key: c.key,
              cert: c.cert,
              ...(c.parameters.serverCaPem ? { ca: c.parameters.serverCaPem } : {}),
              protocolVersion: 5,
              reconnectPeriod: 0,
              connectTimeout: 30_000,
            };
            const client = connect(options);
            client.once('connect', () => {
              rawLatencies.push(Date.now() - rawStart);
              rawClients.push(client);
              rawBar.update(rawLatencies.length, size);
              resolve();
            });
            client.once('close', () => {
              if (!rawClients.includes(client)) {
                rawFailed++;
                resolve();
              }
            });
            client.on('error', () => undefined);
          }),
      ),
    ),
  );
  const raw: PhaseResult = {
    name: 'raw: mutual-TLS CONNACK (keys pre-derived)',
    devices: rawLatencies.length,
    seconds: rawBar.finish(),
    latencies: rawLatencies,
  };
  await stopRawProfile();
  // The onboarding service records the raw sessions and their end before the fleet's clock starts:
  // each phase is timed with only its own work on the machine.
  const settleBar = new ProgressBar('raw sessions recorded and closed (not timed)');
  await until(
    'raw connections recorded',
    () => w.counts.connected,
    rawLatencies.length,
    (d, t) => settleBar.update(d, 2 * t),
    120_000,
  );
  await Promise.all(rawClients.map((c) => c.endAsync(true).catch(() => undefined)));
  await until(
    'raw disconnections recorded',
    () => w.counts.disconnected,
    rawLatencies.length,
    (d, t) => settleBar.update(t + d, 2 * t),
    120_000,
  );
  settleBar.finish();
  w.resetConnections();
  // The raw baseline's keys (PKCS#8 PEM) and clients are done with: dropped before the fleet's clock starts.
  clients.length = 0;
  rawClients.length = 0;
  collectGarbage();

  // ---- phase 2+3: the fleet connects (PUF derivation + handshake) and publishes ----
  const connectBar = new ProgressBar('fleet: connect (PUF key + mutual TLS)');
  const connectedAt = new Map<string, number>();
  const firstAckAt = new Map<string, number>();
  let deriveMs = 0;
  const stopFleetProfile = await profile('fleet');
  const fleetStart = Date.now();
  f.connect({
    concurrency,
    telemetryIntervalMs: 30_000,
    onEvent: (e) => {
      if (e.type === 'connected' && !connectedAt.has(e.deviceId)) {
        connectedAt.set(e.deviceId, e.at);
        deriveMs += e.deriveMs;
      } else if (e.type === 'first-publish-acked') firstAckAt.set(e.deviceId, e.at);
    },
  });
  await until(
    'fleet connected',
    () => connectedAt.size,
    size,
    (d, t) => connectBar.update(d, t),
    120_000,
  );
  const fleetConnect: PhaseResult = {
    name: 'fleet: connected (CONNACK, PUF key per device)',
    devices: connectedAt.size,
    seconds: connectBar.finish(),
    latencies: [...connectedAt.values()].map((t) => t - fleetStart),
  };
  await stopFleetProfile();
  const recordBar = new ProgressBar('onboarding records connection + telemetry');
  await until(
    'recorded',
    () => Math.min(w.counts.connected, w.counts.firstTelemetry),
    size,
    (d, t) => recordBar.update(d, t),
    120_000,
  );
  const recordedSeconds = recordBar.finish();
  const since = (m: Map<string, number> | ((id: string) => number | undefined)) =>
    [...f.devices()]
      .map((d) => (typeof m === 'function' ? m(d.deviceId) : m.get(d.deviceId)))
      .filter((t): t is number => t !== undefined)
      .map((t) => t - fleetStart);
  const recordedConnected: PhaseResult = {
    name: 'DeviceConnected recorded (broker log)',
    devices: w.counts.connected,
    seconds: fleetConnect.seconds + recordedSeconds,
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

  const rawRate = raw.devices / raw.seconds;
  const fleetRate = fleetConnect.devices / fleetConnect.seconds;
  log('');
  log(
    `bench:onboard — ${size} devices, Mosquitto 2.0.11, connect concurrency ${concurrency}, ${process.platform} ${process.arch}, ${availableParallelism()} cores, ${hardwareThreads} device-hardware thread(s)${process.platform === 'linux' ? ' at nice 19' : ''}`,
  );
  log(
    `  ${'phase (latency from the phase start)'.padEnd(44)} ${'devices'.padStart(6)} ${'devices/s'.padStart(10)} ${'p50 ms'.padStart(9)} ${'p99 ms'.padStart(9)} ${'total s'.padStart(9)}`,
  );
  for (const r of [onboarding, raw, fleetConnect, recordedConnected, acked, firstTelemetry]) log(row(r));
  log('');
  log(
    `  fleet connect rate / raw mutual-TLS connect rate = ${fleetRate.toFixed(1)} / ${rawRate.toFixed(1)} = ${(fleetRate / rawRate).toFixed(2)} (target >= 0.80)${rawFailed ? `; raw failures: ${rawFailed}` : ''}`,
  );
  log(
    `  PUF key reconstruction on the device-hardware thread(s): ${(deriveMs / Math.max(1, connectedAt.size)).toFixed(1)} ms per device on average, queueing included (a real device does this on its own silicon)`,
  );
  log(
    `  onboarding (a target certificate per device, one broker reload per batch): ${(size / onboarding.seconds).toFixed(1)} devices/s at ${size} devices (target >= 1,000/s)`,
  );
  log(`  failures by reason: ${JSON.stringify(f.stats().mqtt.failuresByReason)}`);
});
