/**
 * `npm run bench:revoke`: revoke -> disconnect at a real Mosquitto, with the connected fleet in
 * processes of its own. Devices are provisioned, onboarded and connected over mutual TLS; then
 * some are revoked one by one (RevokeDevice, the next once the previous was dropped), some in a
 * burst (a RevokeDevice each, back to back) and one batch with one RevokeBatch. A latency is from
 * the command sent to the moment the device itself saw its session dropped (its own MQTT link's
 * `disconnected`, stamped in the fleet process: same clock).
 *
 * The fleet runs in child processes (fleet-process.ts), not in this one: at 10,000 devices the TLS
 * sessions and telemetry of an in-process fleet took the event loop the platform's revocation runs
 * on, so the latencies measured the test process, not the platform. What stays shared is the
 * machine (two cores here) and the broker.
 *
 * Sizes from the environment, as before: REVOKE_FLEET_DEVICES (1,000), REVOKE_DEVICES (20),
 * REVOKE_BURST_DEVICES (50), REVOKE_BATCH_DEVICES (100). `--profile DIR`: this process's (the
 * platform's) CPU profile of each case in DIR/<case>.cpuprofile. The correctness of the same flows (cut
 * off, reconnects refused, the others unaffected) is asserted by e2e/src/revocation-broker.e2e.spec.ts.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { RevokeBatch, RevokeDevice, OnboardBatch } from '@tunnelkey/contracts';
import type { MqttLinkEvent } from '@tunnelkey/device-fleet';
import { startRevocation } from '@tunnelkey/revocation';
import { pino } from 'pino';
import { profiler } from '../support/bench-options.js';
import { log, runBench } from '../support/bench-run.js';
import { percentile } from '../support/percentile.js';
import { operator, startPlatform, until } from '../support/platform.js';
import { ProgressBar } from '../support/progress-bar.js';
import { certifiedBatch, FleetProcess, setupTimeoutMs } from './fleet-ipc.js';

const size = (name: string, fallback: number): number => {
  const n = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
  return n;
};

interface Case {
  name: string;
  connected: number;
  latencies: number[];
  /** Victims that reconnected after their cut (must be none). */
  reconnected: number;
  /** Victims seen refused at least once after the cut, within the wait. */
  refused: number;
  /** Devices in good standing that lost their session during the case (must be none). */
  othersDropped: number;
}

/** Link events by device, from every fleet process. */
class LinkLog {
  readonly #byDevice = new Map<string, MqttLinkEvent[]>();
  add(events: readonly MqttLinkEvent[]): void {
    for (const e of events) {
      let list = this.#byDevice.get(e.deviceId);
      if (!list) this.#byDevice.set(e.deviceId, (list = []));
      list.push(e);
    }
  }
  of(deviceId: string, type: MqttLinkEvent['type'], after: number): MqttLinkEvent[] {
    return (this.#byDevice.get(deviceId) ?? []).filter((e) => e.type === type && e.at >= after);
  }
  cutAt(deviceId: string, after: number): number | undefined {
    return this.of(deviceId, 'disconnected', after)[0]?.at;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntil(what: string, done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(10);
  }
}

runBench({ mosquitto: true }, async ({ nats, namespace, fixture, onStop }) => {
  const fleetSize = size('REVOKE_FLEET_DEVICES', 1_000);
  const oneByOne = size('REVOKE_DEVICES', 20);
  const burst = size('REVOKE_BURST_DEVICES', 50);
  const batchSize = size('REVOKE_BATCH_DEVICES', 100);
  if (oneByOne + burst + batchSize >= fleetSize) throw new Error('the revoked devices must be fewer than the fleet');
  const logger = pino({ level: process.env['LOG_LEVEL'] ?? 'warn' });
  log(
    `bench:revoke — ${fleetSize} connected devices (fleet in its own processes); ${oneByOne} one by one, ${burst} in a burst, a batch of ${batchSize}`,
  );
  const p = await startPlatform({ nats: fixture.nc, namespace, logger });
  onStop(() => p.stop());
  const revocation = await startRevocation({ nats: fixture.nc, namespace, logger, env: {}, config: { httpPort: 0 } });
  onStop(() => revocation.stop());
  const run = randomBytes(3).toString('hex');
  const batches = [
    { batchId: `fridges-${run}`, size: fleetSize - batchSize },
    { batchId: `fridges-recalled-${run}`, size: batchSize },
  ];
  const links = new LinkLog();
  const fleets: FleetProcess[] = [];
  const setup = new ProgressBar('setup: manufacture, import, verify, certify, onboard (not timed)');
  let prepared = 0;
  for (const { batchId, size: n } of batches) {
    const f = FleetProcess.start();
    fleets.push(f);
    onStop(() => f.stop());
    f.onLinks((events) => links.add(events));
    await certifiedBatch(p, f, { natsUrl: nats.url, namespace, batchId, size: n, seedBase: `rv-bench-${batchId}` });
    prepared += n;
    setup.update(prepared, 2 * fleetSize);
  }
  await p.startBroker();
  await operator.registerBroker(p);
  for (const [i, { batchId, size: n }] of batches.entries()) {
    const f = fleets[i]!;
    await p.send(OnboardBatch, { batchId });
    await until('devices onboarded', () => f.onboarded(), n, undefined, setupTimeoutMs);
    prepared += n;
    setup.update(prepared, 2 * fleetSize);
  }
  setup.finish();

  // Fleet-wide ~330 telemetry messages/s at most, as in the e2e test.
  const telemetryIntervalMs = Math.max(300, 3 * fleetSize);
  const connectBar = new ProgressBar('connect + first telemetry (not timed)');
  for (const f of fleets) await f.request({ type: 'connect', telemetryIntervalMs, concurrency: 32 }, 'connecting');
  const mqtt = async () => Promise.all(fleets.map(async (f) => (await f.request({ type: 'stats' }, 'stats')).mqtt));
  await until(
    'every device publishing',
    async () => (await mqtt()).reduce((sum, m) => sum + m.delivered, 0),
    fleetSize,
    (d, t) => connectBar.update(d, t),
    setupTimeoutMs,
  );
  connectBar.finish();

  const [main, recalled] = await Promise.all(
    fleets.map(async (f) => (await f.request({ type: 'devices' }, 'devices')).deviceIds),
  );
  const cases: Case[] = [];
  const profile = await profiler();
  let gone = new Set<string>();

  const measure = async (
    [phase, name]: [string, string],
    victims: readonly string[],
    revoke: () => Promise<Map<string, number>>,
  ): Promise<void> => {
    const connected = fleetSize - gone.size;
    const since = Date.now();
    const profiled = await profile(phase);
    const revokedAt = await revoke();
    const bar = new ProgressBar(name);
    const cutOff = () => victims.filter((id) => links.cutAt(id, revokedAt.get(id)!) !== undefined).length;
    await until(
      'revoked devices disconnected',
      async () => cutOff(),
      victims.length,
      (d, t) => bar.update(d, t),
      120_000,
    );
    await profiled();
    bar.finish();
    const latencies = victims.map((id) => links.cutAt(id, revokedAt.get(id)!)! - revokedAt.get(id)!);
    // Their reconnects: refused, never connected (the fleet's backoff is 1 s, doubling).
    const cut = (id: string) => links.cutAt(id, revokedAt.get(id)!)!;
    const refused = () => victims.filter((id) => links.of(id, 'connect-failed', cut(id)).length > 0).length;
    await waitUntil('reconnects of revoked devices refused', () => refused() === victims.length, 30_000).catch(
      () => undefined,
    );
    gone = new Set([...gone, ...victims]);
    const others = [...main!, ...recalled!].filter((id) => !gone.has(id));
    cases.push({
      name,
      connected,
      latencies,
      reconnected: victims.filter((id) => links.of(id, 'connected', cut(id)).length > 0).length,
      refused: refused(),
      othersDropped: others.filter((id) => links.of(id, 'disconnected', since).length > 0).length,
    });
  };

  await measure(['one-by-one', 'one by one (RevokeDevice, then the next)'], main!.slice(0, oneByOne), async () => {
    const at = new Map<string, number>();
    for (const deviceId of main!.slice(0, oneByOne)) {
      at.set(deviceId, Date.now());
      await p.send(RevokeDevice, { deviceId, reason: 'keyCompromise' });
      await waitUntil(`${deviceId} disconnected`, () => links.cutAt(deviceId, at.get(deviceId)!) !== undefined, 30_000);
    }
    return at;
  });
  const burstVictims = main!.slice(oneByOne, oneByOne + burst);
  await measure(['burst', `burst of ${burst} (RevokeDevice each, back to back)`], burstVictims, async () => {
    const at = new Map<string, number>();
    for (const deviceId of burstVictims) {
      at.set(deviceId, Date.now());
      await p.send(RevokeDevice, { deviceId, reason: 'keyCompromise' });
    }
    return at;
  });
  await measure(['batch', `batch of ${batchSize} (one RevokeBatch)`], recalled!, async () => {
    const at = Date.now();
    await p.send(RevokeBatch, { batchId: batches[1]!.batchId, reason: 'cessationOfOperation' });
    return new Map(recalled!.map((id) => [id, at]));
  });

  const row = (c: Case) => {
    const sorted = [...c.latencies].sort((a, b) => a - b);
    return `  ${c.name.padEnd(44)} ${String(c.connected).padStart(9)} ${String(c.latencies.length).padStart(7)} ${percentile(sorted, 50).toFixed(0).padStart(7)} ${percentile(sorted, 99).toFixed(0).padStart(7)} ${String(sorted.at(-1)).padStart(7)} ${`${c.refused}/${c.latencies.length}`.padStart(9)} ${String(c.reconnected).padStart(11)} ${String(c.othersDropped).padStart(13)}`;
  };
  process.stdout.write(
    [
      '',
      `bench:revoke — revoke command -> the device's session dropped by the broker (${availableParallelism()} cores, node ${process.version})`,
      `  ${'case'.padEnd(44)} ${'connected'.padStart(9)} ${'revoked'.padStart(7)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'max ms'.padStart(7)} ${'refused'.padStart(9)} ${'reconnected'.padStart(11)} ${'others cut'.padStart(13)}`,
      ...cases.map(row),
      '  refused = revoked devices whose reconnect was refused within 30 s of their cut; reconnected and others cut must be 0',
      '',
    ].join('\n'),
  );
  const wrong = cases.filter((c) => c.reconnected > 0 || c.othersDropped > 0);
  if (wrong.length) throw new Error(`revocation went wrong in: ${wrong.map((c) => c.name).join(', ')}`);
});
