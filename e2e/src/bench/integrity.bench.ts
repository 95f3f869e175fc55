/**
 * `npm run bench:integrity`: integrity monitoring (issue 17) of a heartbeating fleet. N devices (in
 * a process of their own, fleet-process.ts; default 10,000) send a signed heartbeat every period
 * (default 10 s), each key re-derived from its PUF on the fleet's nice-19 silicon threads. All are
 * imported (the registry knows their enrolment keys); a smaller batch (default 100) is also
 * certified, onboarded to a real Mosquitto and connected, so that quarantines are enforced on live
 * sessions. The policy quarantines. After a warm-up period, faults are played: tampered images on
 * onboarded devices, clones and silent devices among the others. Printed:
 * - heartbeats/s the registry accepted, sustained over the measuring window, next to the rate sent;
 * - platform CPU share: this process (registry, CA, onboarding in-process) + NATS + Mosquitto, per
 *   core and as a share of the machine, over the window; the fleet process apart;
 * - violation detection latency p50/p99/max: from the offending heartbeat's signed time to the
 *   violation on the registry's stream (an independent subscriber's arrival time; target < 1 s),
 *   and for silence from the last heartbeat (target < 2 periods);
 * - quarantine enforcement latency p50/p99/max: DeviceQuarantined on the stream -> the broker applied
 *   it and onboarding recorded so (DeviceQuarantineEnforced), and from the offending heartbeat (target < 1 s).
 *
 * Options: `-- --devices N` (INTEGRITY_DEVICES), INTEGRITY_PERIOD_MS (10,000), INTEGRITY_ONBOARDED
 * (100), INTEGRITY_TAMPERED (20), INTEGRITY_CLONES (20), INTEGRITY_SILENT (20), INTEGRITY_WINDOW_MS
 * (60,000). Correctness of the same flows: e2e/src/integrity.e2e.spec.ts.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { OnboardBatch, SetIntegrityPolicy, type EventEnvelope } from '@tunnelkey/contracts';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import { pino } from 'pino';
import { argument } from '../support/bench-options.js';
import { heartbeatOutcomes } from '../support/heartbeat-outcomes.js';
import { log, runBench } from '../support/bench-run.js';
import { percentile } from '../support/percentile.js';
import { operator, startPlatform, until } from '../support/platform.js';
import { processCpuMs } from '../support/process-cpu.js';
import { FleetProcess, setupTimeoutMs } from './fleet-ipc.js';

const env = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer`);
  return value;
};

const devicesOption = () => argument('--devices', env('INTEGRITY_DEVICES', 10_000));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function summary(label: string, values: number[], unit = 'ms'): string {
  if (values.length === 0) return `${label}: none measured`;
  const sorted = [...values].sort((a, b) => a - b);
  const f = (v: number) => `${Math.round(v)} ${unit}`;
  return `${label} (n=${sorted.length}): p50 ${f(percentile(sorted, 50))}, p99 ${f(percentile(sorted, 99))}, max ${f(sorted.at(-1)!)}`;
}

runBench({ mosquitto: true }, async ({ nats, namespace, fixture, natsPid, onStop }) => {
  const fleetSize = devicesOption();
  const periodMs = env('INTEGRITY_PERIOD_MS', 10_000);
  const onboardedSize = Math.min(fleetSize, env('INTEGRITY_ONBOARDED', 100));
  const tamperedCount = Math.min(onboardedSize, env('INTEGRITY_TAMPERED', 20));
  const clonesCount = env('INTEGRITY_CLONES', 20);
  const silentCount = env('INTEGRITY_SILENT', 20);
  const windowMs = env('INTEGRITY_WINDOW_MS', 60_000);
  if (clonesCount + silentCount > fleetSize - onboardedSize)
    throw new Error('not enough devices outside the onboarded batch for the clones and silent devices');
  // Each violation is a warn line of the registry: at 10,000 devices they would drown the figures.
  const logger = pino({ level: process.env['LOG_LEVEL'] ?? 'error' });
  log(
    `bench:integrity — ${fleetSize} devices heartbeating every ${periodMs} ms (${onboardedSize} onboarded and connected), fleet in its own process; NATS ${nats.url}${natsPid ? ` (pid ${natsPid})` : ' (pid not visible: its CPU is not counted)'}`,
  );
  const p = await startPlatform({ nats: fixture.nc, namespace, logger });
  onStop(() => p.stop());
  const store = new JetStreamEventStore(fixture.nc, { namespace });
  onStop(() => store.close());
  const tag = randomBytes(3).toString('hex');
  const [monitoredBatch, onboardedBatch] = [`fleet-${tag}`, `onboarded-${tag}`];
  const f = FleetProcess.start();
  onStop(() => f.stop());
  log('manufacturing the fleet (PUF enrolment, not timed)...');
  const identityFileJson = await f.manufacture({
    natsUrl: nats.url,
    namespace,
    size: fleetSize,
    seedBase: `integrity-bench-${tag}`,
    platformPublicKeySpki: p.platformPublicKeySpki,
    hardwareThreads: Math.max(1, availableParallelism() - 1),
  });
  const rows = JSON.parse(identityFileJson) as { deviceId: string }[];
  const onboardedRows = rows.slice(0, onboardedSize);
  const monitoredRows = rows.slice(onboardedSize);
  for (const [batchId, batchRows] of [
    [onboardedBatch, onboardedRows],
    [monitoredBatch, monitoredRows],
  ] as const) {
    if (batchRows.length === 0) continue;
    await operator.defineBatch(p, batchId, batchRows.length);
    await p.send(SetIntegrityPolicy, {
      policyId: `fridge-policy-${batchId}`,
      heartbeatPeriodSeconds: periodMs / 1000,
      missedPeriods: 1.5,
      action: 'quarantine',
    });
    await operator.importIdentities(p, { identityFile: () => JSON.stringify(batchRows) }, batchId);
  }
  log(`imported ${rows.length}; provisioning and onboarding ${onboardedSize} (not timed)...`);
  await operator.verify(p, onboardedBatch, onboardedSize, undefined, setupTimeoutMs);
  await operator.certify(p, onboardedBatch, onboardedSize, undefined, setupTimeoutMs);
  await p.startBroker();
  await operator.registerBroker(p);
  await p.send(OnboardBatch, { batchId: onboardedBatch });
  await until('devices onboarded', () => f.onboarded(), onboardedSize, undefined, setupTimeoutMs);
  const stats = () => f.request({ type: 'stats' }, 'stats');
  await f.request({ type: 'connect', telemetryIntervalMs: periodMs, concurrency: 32 }, 'connecting');
  await until('every onboarded device publishing', async () => (await stats()).mqtt.delivered, onboardedSize);

  const heartbeats = () => heartbeatOutcomes(p.registry.url);
  // When each violation, quarantine and enforcement reached the log, as an independent subscriber on
  // the streams' subjects sees it (the fleet process signs heartbeats with the same machine clock).
  const arrived = new Map<string, { at: number; event: EventEnvelope }>();
  const decoder = new TextDecoder();
  for (const filter of [`${namespace}.registry.integrity.>`, `${namespace}.onboarding.device.>`])
    fixture.nc.subscribe(filter, {
      callback: (_error, msg) => {
        const at = Date.now();
        const event = JSON.parse(decoder.decode(msg.data)) as EventEnvelope;
        const data = event.data as { deviceId: string; kind?: string; quarantined?: boolean; failed?: string };
        if (event.type === 'DeviceQuarantineEnforced' && (!data.quarantined || data.failed)) return;
        const key = `${event.type}/${data.kind ?? ''}/${data.deviceId}`;
        if (!arrived.has(key)) arrived.set(key, { at, event });
      },
    });
  const sentSoFar = async () => (await f.request({ type: 'heartbeat-stats' }, 'heartbeat-stats')).stats;
  await f.request({ type: 'heartbeats', periodMs }, 'heartbeating');
  log(`heartbeats started; warming up for ${Math.round((1.5 * periodMs) / 1000)} s...`);
  await sleep(1.5 * periodMs);

  // The measuring window: CPU and heartbeats counted from here to its end.
  const brokerPid = p.broker.pid;
  const cpu = () => ({
    platform: processCpuMs(process.pid),
    nats: natsPid ? processCpuMs(natsPid) : 0,
    broker: processCpuMs(brokerPid),
    fleet: processCpuMs(f.pid),
  });
  const cpuStart = cpu();
  const acceptedStart = (await heartbeats()).accepted ?? 0;
  const sentStart = (await sentSoFar()).sent;
  const windowStart = performance.now();

  // Faults, spread over the first part of the window.
  const tampered = onboardedRows.slice(0, tamperedCount).map((r) => r.deviceId);
  const clones = monitoredRows.slice(0, clonesCount).map((r) => r.deviceId);
  const silent = monitoredRows.slice(clonesCount, clonesCount + silentCount).map((r) => r.deviceId);
  const spread = Math.max(1, Math.floor(windowMs / 3 / Math.max(1, tamperedCount + clonesCount)));
  const injectedAt = new Map<string, number>();
  await f.request({ type: 'inject', deviceIds: silent, fault: 'silent' }, 'injected');
  for (const [deviceIds, fault] of [
    [tampered, 'tampered-measurement'],
    [clones, 'cloned'],
  ] as const)
    for (const deviceId of deviceIds) {
      const { at } = await f.request({ type: 'inject', deviceIds: [deviceId], fault }, 'injected');
      injectedAt.set(deviceId, at);
      await sleep(spread);
    }
  const remaining = windowMs - (performance.now() - windowStart);
  if (remaining > 0) await sleep(remaining);
  const windowS = (performance.now() - windowStart) / 1000;
  const cpuEnd = cpu();
  const accepted = ((await heartbeats()).accepted ?? 0) - acceptedStart;
  const sent = (await sentSoFar()).sent - sentStart;
  // Silent devices are flagged within 2 periods of their last heartbeat: wait for that much past the window.
  await sleep(Math.max(0, 2 * periodMs - windowMs) + 2_000);
  const outcomes = await heartbeats();

  const events = [...arrived.values()].map((a) => a.event);
  const at = (key: string) => arrived.get(key)?.at;
  const heartbeatOf = (key: string) =>
    (arrived.get(key)?.event.data as { heartbeatAt?: string } | undefined)?.heartbeatAt;
  const latencies = (deviceIds: string[], kind: string) =>
    deviceIds.flatMap((deviceId) => {
      const key = `IntegrityViolationDetected/${kind}/${deviceId}`;
      const heartbeatAt = heartbeatOf(key);
      return heartbeatAt ? [at(key)! - Date.parse(heartbeatAt)] : [];
    });
  const enforcement = tampered.flatMap((deviceId) => {
    const quarantined = at(`DeviceQuarantined//${deviceId}`);
    const enforced = at(`DeviceQuarantineEnforced//${deviceId}`);
    return quarantined !== undefined && enforced !== undefined ? [enforced - quarantined] : [];
  });
  // Only where the quarantine came from that heartbeat (not from an earlier silence of the device).
  const endToEnd = tampered.flatMap((deviceId) => {
    const violation = arrived.get(`IntegrityViolationDetected/measurement-mismatch/${deviceId}`)?.event;
    const quarantine = arrived.get(`DeviceQuarantined//${deviceId}`)?.event;
    const heartbeatAt = (violation?.data as { heartbeatAt?: string } | undefined)?.heartbeatAt;
    const enforced = at(`DeviceQuarantineEnforced//${deviceId}`);
    const sameCause =
      (quarantine?.data as { violationId?: string } | undefined)?.violationId ===
      (violation?.data as { violationId?: string } | undefined)?.violationId;
    return heartbeatAt && enforced !== undefined && sameCause ? [enforced - Date.parse(heartbeatAt)] : [];
  });
  const flagged = (kind: string) =>
    new Set(
      events
        .filter((e) => e.type === 'IntegrityViolationDetected' && (e.data as { kind: string }).kind === kind)
        .map((e) => (e.data as { deviceId: string }).deviceId),
    );
  const faulty = new Set([...tampered, ...clones, ...silent]);
  const falseAlarms = [
    ...flagged('heartbeat-missing'),
    ...flagged('counter-regression'),
    ...flagged('measurement-mismatch'),
  ].filter((id) => !faulty.has(id));
  const cores = availableParallelism();
  const share = (ms: number) => `${((ms / (windowS * 1000)) * 100).toFixed(1)} % of a core`;
  const platformMs =
    cpuEnd.platform - cpuStart.platform + (cpuEnd.nats - cpuStart.nats) + (cpuEnd.broker - cpuStart.broker);

  log();
  log(
    `window ${windowS.toFixed(1)} s, machine ${cores} cores, load average at the end ${(await loadAverage()).join(' ')}`,
  );
  log(
    `heartbeats accepted/s (sustained): ${(accepted / windowS).toFixed(0)} (sent/s by the fleet: ${(sent / windowS).toFixed(0)}; target ${((fleetSize / periodMs) * 1000).toFixed(0)})`,
  );
  log(`heartbeat outcomes: ${JSON.stringify(outcomes)}`);
  log(
    `platform CPU (services + NATS + Mosquitto): ${share(platformMs)} = ${((platformMs / (windowS * 1000 * cores)) * 100).toFixed(1)} % of the machine; services ${share(cpuEnd.platform - cpuStart.platform)}, NATS ${share(cpuEnd.nats - cpuStart.nats)}, Mosquitto ${share(cpuEnd.broker - cpuStart.broker)}; fleet process ${share(cpuEnd.fleet - cpuStart.fleet)}`,
  );
  log(
    summary(
      'detection, tampered measurement (from the offending heartbeat, target < 1 s)',
      latencies(tampered, 'measurement-mismatch'),
    ),
  );
  log(
    summary('detection, clone (from the offending heartbeat, target < 1 s)', latencies(clones, 'counter-regression')),
  );
  log(
    summary(
      `detection, silence (from the last heartbeat, target < 2 periods = ${2 * periodMs} ms)`,
      latencies(silent, 'heartbeat-missing'),
    ),
  );
  log(
    summary(
      'quarantine enforcement (DeviceQuarantined -> applied at the broker and recorded, target < 1 s)',
      enforcement,
    ),
  );
  log(summary('quarantine end to end (offending heartbeat -> applied at the broker)', endToEnd));
  log(
    `flagged: tampered ${[...flagged('measurement-mismatch')].filter((id) => tampered.includes(id)).length}/${tampered.length}, clones ${[...flagged('counter-regression')].filter((id) => clones.includes(id)).length}/${clones.length}, silent ${[...flagged('heartbeat-missing')].filter((id) => silent.includes(id)).length}/${silent.length}; false alarms on healthy devices: ${falseAlarms.length}`,
  );
});

async function loadAverage(): Promise<string[]> {
  const { loadavg } = await import('node:os');
  return loadavg().map((l) => l.toFixed(2));
}
