/**
 * `npm run bench:renew`: certificate renewal (issue 17), rotate then revoke, of a connected fleet as
 * one batch. Devices (in a process of their own, fleet-process.ts) are provisioned, onboarded to a
 * real Mosquitto and publish telemetry; then one RenewCertificates renews the batch. Printed:
 * devices/s from the command to the last old certificate revoked, p50/p99 per device from the
 * command to its old certificate revoked (CertificateRenewalCompleted in the CA's log), the longest
 * telemetry gap a subscriber at the broker saw during the renewal, and the certify phase's rate of
 * the same run with the ratio (target >= 0.7 of bench:provision's certify rate). For both phases,
 * the CPU time per device of each process (read from /proc): when the machine's cores are busy in
 * both, the ratio is about the certification's CPU per device over the renewal's.
 *
 * Where the time goes, per device: command -> new certificate recorded (CSR asked, answered, issued),
 * -> connected with it (target certificate, connection parameters, key derived, handshake), -> old
 * certificate revoked (the signed switch report, verified and recorded).
 *
 * Size: `-- --devices N` or RENEW_DEVICES (default 1,000); telemetry every RENEW_TELEMETRY_MS
 * (default 5,000). `-- --profile DIR`: the platform's CPU profile of the renewal
 * (DIR/renew-platform.cpuprofile) and the fleet process's whole one. The correctness of the same flow is asserted by e2e/src/renewal.e2e.spec.ts.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import {
  CertificateIssued,
  CertificateRenewalCompleted,
  DeviceCertificateRenewed,
  GetRenewalProgress,
  OnboardBatch,
  RenewCertificates,
  type ResultOf,
} from '@tunnelkey/contracts';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import type { MqttLinkEvent } from '@tunnelkey/device-fleet';
import { pino } from 'pino';
import { argument, profileDirectory, profiler } from '../support/bench-options.js';
import { log, runBench } from '../support/bench-run.js';
import { monitorBroker } from '../support/broker-monitor.js';
import { percentile } from '../support/percentile.js';
import { cpuRow, cpuSampler } from '../support/process-cpu.js';
import { operator, startPlatform, until } from '../support/platform.js';
import { ProgressBar } from '../support/progress-bar.js';
import { certifiedBatch, FleetProcess, setupTimeoutMs } from './fleet-ipc.js';

runBench({ mosquitto: true }, async ({ nats, namespace, fixture, natsPid, onStop }) => {
  const fleetSize = argument('--devices', Number(process.env['RENEW_DEVICES'] ?? 1_000));
  const telemetryIntervalMs = Number(process.env['RENEW_TELEMETRY_MS'] ?? 5_000);
  const logger = pino({ level: process.env['LOG_LEVEL'] ?? 'warn' });
  log(`bench:renew — ${fleetSize} connected devices renewed as one batch (fleet in its own process)`);
  const p = await startPlatform({ nats: fixture.nc, namespace, logger });
  onStop(() => p.stop());
  const store = new JetStreamEventStore(fixture.nc, { namespace });
  onStop(() => store.close());
  const batchId = `fridges-${randomBytes(3).toString('hex')}`;
  const links: MqttLinkEvent[] = [];
  const profileDir = profileDirectory();
  const profile = await profiler();
  const f = FleetProcess.start(profileDir ? { profileDir } : {});
  onStop(() => f.stop());
  f.onLinks((events) => void links.push(...events));
  // CPU time per process, read from /proc (the broker's once it runs): where each phase's cycles went.
  let brokerPid: number | undefined = undefined;
  const sample = cpuSampler({ fleet: f.pid, nats: natsPid, broker: () => brokerPid });
  const { certifySeconds, certifySamples } = await certifiedBatch(
    p,
    f,
    { natsUrl: nats.url, namespace, batchId, size: fleetSize, seedBase: `renew-bench-${batchId}` },
    sample,
  );
  const certifyRate = fleetSize / certifySeconds;
  const broker = await p.startBroker();
  brokerPid = broker.pid;
  await operator.registerBroker(p);
  await p.send(OnboardBatch, { batchId });
  const stats = () => f.request({ type: 'stats' }, 'stats');
  await until('devices onboarded', () => f.onboarded(), fleetSize, undefined, setupTimeoutMs);
  const lastSeen = new Map<string, number>();
  let renewalStarted = Number.POSITIVE_INFINITY;
  let longestGapMs = 0;
  const monitor = await monitorBroker(broker, 'renew-bench-monitor', ['fridges/+/telemetry'], (topic, now) => {
    const deviceId = topic.split('/')[1]!;
    const before = lastSeen.get(deviceId);
    if (before !== undefined && now > renewalStarted) longestGapMs = Math.max(longestGapMs, now - before);
    lastSeen.set(deviceId, now);
  });
  onStop(() => monitor.endAsync(true));
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
  // The connected fleet at rest for one telemetry period (untimed): what its telemetry alone costs,
  // which the renewal carries and the certify phase (no device connected yet) does not.
  const restFrom = sample();
  const restStarted = performance.now();
  await new Promise((resolve) => setTimeout(resolve, telemetryIntervalMs));
  const restTo = sample();
  const restSeconds = (performance.now() - restStarted) / 1000;

  const bar = new ProgressBar('renew (timed)');
  renewalStarted = Date.now();
  const linksBefore = links.length;
  const stopProfile = await profile('renew-platform');
  const renewFrom = sample();
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
  const renewTo = sample();
  await stopProfile();
  const final = await progress();
  const completedAt: number[] = [];
  /** Per device: its new certificate recorded, then its switch reported (the old one revoked). */
  const renewedAt = new Map<string, number>();
  const revokedAt = new Map<string, number>();
  await store.replay(
    'ca',
    (recorded) => {
      const { event } = recorded;
      if (DeviceCertificateRenewed.is(event) && event.data.operationId === started.operationId)
        renewedAt.set(event.data.deviceId, Date.parse(event.occurredAt));
      if (CertificateRenewalCompleted.is(event) && event.data.operationId === started.operationId) {
        const at = Date.parse(event.data.revokedPrevious.revokedAt);
        completedAt.push(at - renewalStarted);
        revokedAt.set(event.data.deviceId, at);
      }
    },
    { aggregate: 'renewal' },
  );
  /** Per device: its new certificate issued (the CA answered its CSR), before the renewal records it. */
  const issuedAt = new Map<string, number>();
  await store.replay(
    'ca',
    ({ event }) => {
      if (!CertificateIssued.is(event) || event.data.keyId === 'tls-0') return;
      const at = Date.parse(event.occurredAt);
      if (at >= renewalStarted) issuedAt.set(event.data.deviceId, at);
    },
    { aggregate: 'device' },
  );
  completedAt.sort((a, b) => a - b);
  const reconnected = new Map<string, { at: number; deriveMs: number; handshakeMs: number }>();
  for (const e of links.slice(linksBefore))
    if (e.type === 'connected' && !reconnected.has(e.deviceId)) reconnected.set(e.deviceId, e);
  const stage = (from: Map<string, number>, to: (deviceId: string) => number | undefined) =>
    [...from].flatMap(([deviceId, at]) => {
      const end = to(deviceId);
      return end === undefined ? [] : [end - at];
    });
  const issueStage = [...renewedAt.values()].map((at) => at - renewalStarted);
  const answeredStage = [...issuedAt.values()].map((at) => at - renewalStarted);
  const matchStage = stage(issuedAt, (d) => renewedAt.get(d));
  const reconnectStage = stage(renewedAt, (d) => reconnected.get(d)?.at);
  const reportStage = stage(new Map([...reconnected].map(([d, e]) => [d, e.at])), (d) => revokedAt.get(d));
  const handshakes = [...reconnected.values()].map((e) => e.handshakeMs);
  const derives = [...reconnected.values()].map((e) => e.deriveMs);
  for (const values of [issueStage, answeredStage, matchStage, reconnectStage, reportStage, handshakes, derives])
    values.sort((a, b) => a - b);
  const ms = (values: readonly number[]) =>
    `p50 ${percentile(values, 50).toFixed(0)} ms, p99 ${percentile(values, 99).toFixed(0)} ms`;
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
      `    command -> new certificate recorded    ${ms(issueStage)}`,
      `      command -> issued (CSR asked, answered) ${ms(answeredStage)}; issued -> recorded renewed ${ms(matchStage)}`,
      `    new certificate -> connected with it   ${ms(reconnectStage)}`,
      `      its key re-derived (hardware wait incl.) ${ms(derives)}; its handshake ${ms(handshakes)}`,
      `    connected -> old certificate revoked   ${ms(reportStage)}`,
      `  longest telemetry gap at the broker ${longestGapMs} ms (telemetry every ${telemetryIntervalMs} ms)`,
      `  connection attempts refused         ${refused}`,
      `  certify phase of this run           ${certifyRate.toFixed(1)} devices/s; renewal / certify = ${(rate / certifyRate).toFixed(2)} (target >= 0.7)`,
      `  CPU ms per device (/proc)          platform | NATS | broker | devices (silicon apart) | all, and share of the ${availableParallelism()} cores`,
      `    certify  ${cpuRow(certifySamples!.from, certifySamples!.to, fleetSize, certifySeconds, availableParallelism())}`,
      `    renew    ${cpuRow(renewFrom, renewTo, fleetSize, totalMs / 1000, availableParallelism())}`,
      `    at rest  ${cpuRow(restFrom, restTo, (fleetSize * restSeconds) / (totalMs / 1000), restSeconds, availableParallelism())} (connected, telemetry only, as long as the renewal took)`,
      '',
    ].join('\n'),
  );
});
