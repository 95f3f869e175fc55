/**
 * `npm run bench:renew`: certificate renewal (issue 17), rotate then revoke, of a connected fleet as
 * one batch. Devices (in a process of their own, fleet-process.ts) are provisioned, onboarded to a
 * real Mosquitto and publish telemetry; then one RenewCertificates renews the batch. Printed:
 * devices/s from the command to the last old certificate revoked, p50/p99 per device from the
 * command to its old certificate revoked (CertificateRenewalCompleted in the CA's log), the longest
 * telemetry gap a subscriber at the broker saw during the renewal, and the certify phase's rate of
 * the same run with the ratio (target >= 0.7 of bench:provision's certify rate).
 *
 * Size: `-- --devices N` or RENEW_DEVICES (default 1,000); telemetry every RENEW_TELEMETRY_MS
 * (default 5,000). The correctness of the same flow is asserted by e2e/src/renewal.e2e.spec.ts.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import {
  CertificateRenewalCompleted,
  GetRenewalProgress,
  OnboardBatch,
  RenewCertificates,
  type ResultOf,
} from '@tunnelkey/contracts';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import type { MqttLinkEvent } from '@tunnelkey/device-fleet';
import { natsFixture, type NatsFixture } from '@tunnelkey/testing';
import { connectAsync, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { checkMosquitto, useOrStartNats, type NatsServer } from '../support/infrastructure.js';
import { percentile } from '../support/percentile.js';
import { operator, startPlatform, until, type Platform } from '../support/platform.js';
import { ProgressBar } from '../support/progress-bar.js';
import { FleetProcess } from './fleet-ipc.js';

const log = (line = '') => process.stderr.write(`${line}\n`);

function devicesOption(): number {
  const at = process.argv.indexOf('--devices');
  const n = Number(at >= 0 ? process.argv[at + 1] : (process.env['RENEW_DEVICES'] ?? 1_000));
  if (!Number.isInteger(n) || n < 1) throw new Error('--devices must be a positive integer');
  return n;
}

async function main(): Promise<void> {
  const fleetSize = devicesOption();
  const telemetryIntervalMs = Number(process.env['RENEW_TELEMETRY_MS'] ?? 5_000);
  const logger = pino({ level: process.env['LOG_LEVEL'] ?? 'warn' });
  let nats: NatsServer | undefined;
  let fixture: NatsFixture | undefined;
  let platform: Platform | undefined;
  let fleet: FleetProcess | undefined;
  let monitor: MqttClient | undefined;
  let store: JetStreamEventStore | undefined;
  const stopAll = async () => {
    await monitor?.endAsync(true).catch(() => undefined);
    await fleet?.stop().catch(() => undefined);
    store?.close();
    await platform?.stop().catch(() => undefined);
    await fixture?.teardown().catch(() => undefined);
    await nats?.stop().catch(() => undefined);
  };
  try {
    await checkMosquitto();
    nats = await useOrStartNats(log);
    fixture = natsFixture({ url: nats.url, prefix: 'bench' });
    await fixture.setup();
    const namespace = fixture.namespace;
    log(`bench:renew — ${fleetSize} connected devices renewed as one batch (fleet in its own process)`);
    platform = await startPlatform({ nats: fixture.nc, namespace, logger });
    store = new JetStreamEventStore(fixture.nc, { namespace });
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.removeAllListeners(signal);
      process.on(signal, () => void stopAll().then(() => process.exit(130)));
    }
    const p = platform;
    const batchId = `fridges-${randomBytes(3).toString('hex')}`;
    const links: MqttLinkEvent[] = [];
    fleet = FleetProcess.start();
    fleet.onLinks((events) => void links.push(...events));
    const f = fleet;
    const identityFileJson = await f.manufacture({
      natsUrl: nats.url,
      namespace,
      size: fleetSize,
      seedBase: `renew-bench-${batchId}`,
      platformPublicKeySpki: p.platformPublicKeySpki,
      hardwareThreads: Math.max(1, availableParallelism() - 1),
    });
    await operator.defineBatch(p, batchId, fleetSize);
    await operator.importIdentities(p, { identityFile: () => identityFileJson }, batchId);
    await operator.verify(p, batchId, fleetSize, undefined, 600_000);
    const certifyStarted = performance.now();
    await operator.certify(p, batchId, fleetSize, undefined, 600_000);
    const certifyRate = fleetSize / ((performance.now() - certifyStarted) / 1000);
    const broker = await p.startBroker();
    await operator.registerBroker(p);
    await p.send(OnboardBatch, { batchId });
    const stats = () => f.request({ type: 'stats' }, 'stats');
    await until('devices onboarded', () => f.onboarded(), fleetSize, undefined, 600_000);
    monitor = await connectAsync({
      protocol: 'mqtt',
      host: broker.host,
      port: broker.adminPort,
      username: broker.admin.username,
      password: broker.admin.password,
      clientId: `renew-bench-monitor-${randomBytes(3).toString('hex')}`,
      reconnectPeriod: 0,
    });
    const lastSeen = new Map<string, number>();
    let renewalStarted = Number.POSITIVE_INFINITY;
    let longestGapMs = 0;
    monitor.on('message', (topic) => {
      const deviceId = topic.split('/')[1]!;
      const now = Date.now();
      const before = lastSeen.get(deviceId);
      if (before !== undefined && now > renewalStarted) longestGapMs = Math.max(longestGapMs, now - before);
      lastSeen.set(deviceId, now);
    });
    await monitor.subscribeAsync('fridges/+/telemetry', { qos: 0 });
    const connectBar = new ProgressBar('connect + first telemetry (not timed)');
    await f.request({ type: 'connect', telemetryIntervalMs, concurrency: 32 }, 'connecting');
    await until(
      'every device publishing',
      async () => (await stats()).mqtt.delivered,
      fleetSize,
      (d, t) => connectBar.update(d, t),
      600_000,
    );
    connectBar.finish();

    const bar = new ProgressBar('renew (timed)');
    renewalStarted = Date.now();
    const linksBefore = links.length;
    const started = await p.send<ResultOf<typeof RenewCertificates>>(RenewCertificates, {
      scope: { kind: 'batch', batchId },
      reason: 'operator',
    });
    const progress = () =>
      p.send<ResultOf<typeof GetRenewalProgress>>(GetRenewalProgress, { operationId: started.operationId });
    await until(
      'renewals completed',
      async () => (await progress()).completed,
      fleetSize,
      (d, t) => bar.update(d, t),
      600_000,
    );
    bar.finish();
    const final = await progress();
    const completedAt: number[] = [];
    await store.replay(
      'ca',
      (recorded) => {
        if (CertificateRenewalCompleted.is(recorded.event) && recorded.event.data.operationId === started.operationId)
          completedAt.push(Date.parse(recorded.event.data.revokedPrevious.revokedAt) - renewalStarted);
      },
      { aggregate: 'renewal' },
    );
    completedAt.sort((a, b) => a - b);
    const totalMs = completedAt.at(-1)!;
    const during = links.slice(linksBefore);
    const refused = during.filter((e) => e.type === 'connect-failed').length;
    const rate = fleetSize / (totalMs / 1000);
    process.stdout.write(
      [
        '',
        `bench:renew — RenewCertificates of ${fleetSize} connected devices as one batch (${availableParallelism()} cores, node ${process.version})`,
        `  renewed (old certificate revoked)  ${final.completed} of ${fleetSize}, ${final.expired} expired`,
        `  devices/s                          ${rate.toFixed(1)} (command -> last old certificate revoked: ${(totalMs / 1000).toFixed(1)} s)`,
        `  per device, command -> old revoked p50 ${percentile(completedAt, 50).toFixed(0)} ms, p99 ${percentile(completedAt, 99).toFixed(0)} ms`,
        `  longest telemetry gap at the broker ${longestGapMs} ms (telemetry every ${telemetryIntervalMs} ms)`,
        `  connection attempts refused         ${refused}`,
        `  certify phase of this run           ${certifyRate.toFixed(1)} devices/s; renewal / certify = ${(rate / certifyRate).toFixed(2)} (target >= 0.7)`,
        '',
      ].join('\n'),
    );
  } finally {
    await stopAll();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    log(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
