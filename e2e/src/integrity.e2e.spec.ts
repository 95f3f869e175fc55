/**
 * Issue 17's integrity monitoring end to end on real servers: NATS on NATS_URL (isolated by a
 * namespace) and a real Mosquitto. The registry, the CA and onboarding run in-process; PUF devices
 * are connected, publish telemetry and send signed heartbeats every 2 s. The policy quarantines.
 * A device whose image is tampered with is quarantined at the broker: its session stays up, its
 * telemetry is refused (MQTT 5 reason 135, seen at its own link) and stops reaching an independent
 * subscriber, its quarantine topic stays open (its report there is acknowledged and delivered);
 * an operator releases it. A silent device and a clone are flagged. A forged heartbeat and a
 * replayed one are refused with their code and write nothing.
 */
import { randomUUID } from 'node:crypto';
import {
  HeartbeatMessage,
  quarantineTopic,
  ReleaseQuarantine,
  SetIntegrityPolicy,
  type EventEnvelope,
  type ResultOf,
} from '@tunnelkey/contracts';
import { createFleet, type Fleet, type MqttLinkEvent } from '@tunnelkey/device-fleet';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import { natsFixture, waitFor } from '@tunnelkey/testing';
import type { MqttClient } from 'mqtt';
import { pino } from 'pino';
import { heartbeatOutcomes } from './support/heartbeat-outcomes.js';
import { monitorBroker } from './support/broker-monitor.js';
import { operator, startPlatform, targetId, type Platform } from './support/platform.js';

const nats = natsFixture({ prefix: 'intge2e' });
const fleetSize = 8;
const periodMs = 2_000;
const logger = pino({ level: 'warn' });
const long = { timeoutMs: 60_000, intervalMs: 200 };

describe(`integrity monitoring of ${fleetSize} connected PUF devices on a real Mosquitto`, () => {
  let platform: Platform;
  let fleet: Fleet;
  let store: JetStreamEventStore;
  let monitor: MqttClient;
  const batchId = `integ-${randomUUID().slice(0, 8)}`;
  const linkEvents: MqttLinkEvent[] = [];
  /** What an independent subscriber at the broker receives: topic and arrival time. */
  const arrivals: { topic: string; at: number }[] = [];
  let devices: string[];

  const integrityEvents = async (deviceId: string): Promise<EventEnvelope[]> =>
    (await store.read({ context: 'registry', aggregate: 'integrity', id: deviceId })).events.map((r) => r.event);
  const enforcements = async (deviceId: string) =>
    (await store.read({ context: 'onboarding', aggregate: 'device', id: deviceId })).events
      .map((r) => r.event)
      .filter((e) => e.type === 'DeviceQuarantineEnforced');
  const heartbeats = () => heartbeatOutcomes(platform.registry.url);
  const telemetryOf = (deviceId: string, after: number) =>
    arrivals.filter((a) => a.topic === `fridges/${deviceId}/telemetry` && a.at > after).length;

  beforeAll(async () => {
    await nats.setup();
    platform = await startPlatform({ nats: nats.nc, namespace: nats.namespace, logger, telemetryIntervalMs: 1_000 });
    store = new JetStreamEventStore(nats.nc, { namespace: nats.namespace });
    fleet = await createFleet({
      nats: nats.nc,
      namespace: nats.namespace,
      size: fleetSize,
      seedBase: `integrity-e2e-${batchId}`,
      platformPublicKey: platform.platformPublicKeySpki,
    });
    devices = [...fleet.devices()].map((d) => d.deviceId);
    await operator.defineBatch(platform, batchId, fleetSize);
    await platform.send<ResultOf<typeof SetIntegrityPolicy>>(SetIntegrityPolicy, {
      policyId: `fridge-policy-${batchId}`,
      heartbeatPeriodSeconds: periodMs / 1000,
      missedPeriods: 1.5,
      action: 'quarantine',
    });
    await operator.certifyFleet(platform, fleet, batchId, fleetSize);
    const broker = await platform.startBroker();
    await operator.registerBroker(platform);
    await operator.onboard(platform, fleet, batchId, fleetSize);
    monitor = await monitorBroker(
      broker,
      'integrity-monitor',
      ['fridges/+/telemetry', quarantineTopic('+')],
      (topic, at) => void arrivals.push({ topic, at }),
    );
    fleet.connect({ telemetryIntervalMs: 500, concurrency: 8, onEvent: (event) => void linkEvents.push(event) });
    await waitFor(() => fleet.stats().mqtt.delivered === fleetSize, {
      description: 'every device had telemetry acknowledged',
      timeoutMs: 120_000,
    });
    fleet.heartbeats.start(periodMs);
    await waitFor(async () => ((await heartbeats()).accepted ?? 0) >= 2 * fleetSize, {
      description: 'every device heartbeating, accepted',
      ...long,
    });
  }, 480_000);

  afterAll(async () => {
    fleet?.heartbeats.stop();
    await monitor?.endAsync(true);
    await fleet?.stop();
    await platform?.stop();
    await nats.teardown();
  }, 60_000);

  test('a tampered device is quarantined at the broker: connected, telemetry refused, quarantine topic open; released by an operator', async () => {
    const tampered = devices[0]!;
    const injectedAt = Date.now();
    fleet.heartbeats.inject(tampered, 'tampered-measurement');

    const [violation, quarantined] = await waitFor(
      async () => {
        const events = await integrityEvents(tampered);
        return events.length >= 2 ? events : undefined;
      },
      { description: 'the violation and the quarantine recorded', ...long },
    );
    expect(violation).toMatchObject({
      type: 'IntegrityViolationDetected',
      data: {
        kind: 'measurement-mismatch',
        action: 'quarantine',
        observedMeasurement: fleet.device(tampered)!.flash.firmware.measurement,
      },
    });
    expect(quarantined).toMatchObject({ type: 'DeviceQuarantined', data: { deviceId: tampered } });
    const [enforced] = await waitFor(
      async () => ((await enforcements(tampered)).length ? enforcements(tampered) : undefined),
      {
        description: 'the broker applied the quarantine',
        ...long,
      },
    );
    expect(enforced!.data).toEqual({ deviceId: tampered, targetId, quarantined: true });
    const enforcedAt = Date.parse(enforced!.occurredAt);

    // At the device's own link: its telemetry refused as not authorised, its quarantine report acknowledged.
    await waitFor(
      () =>
        linkEvents.some((e) => e.type === 'publish-refused' && e.deviceId === tampered && e.reasonCode === 135) &&
        linkEvents.some((e) => e.type === 'quarantine-report' && e.deviceId === tampered && e.acked),
      { description: 'telemetry refused (135) and the quarantine report acked', ...long },
    );
    await waitFor(() => arrivals.some((a) => a.topic === quarantineTopic(tampered) && a.at > enforcedAt), {
      description: 'the report delivered on its quarantine topic',
      ...long,
    });
    // Nothing of its telemetry reaches the broker's subscribers while the others' does (each of them twice more).
    const checkFrom = Date.now() + 200;
    await waitFor(() => devices.slice(1).every((id) => telemetryOf(id, checkFrom) >= 2), {
      description: 'the other devices kept delivering',
      ...long,
    });
    expect(telemetryOf(tampered, checkFrom)).toBe(0);
    // Its session was never dropped.
    expect(linkEvents.filter((e) => e.deviceId === tampered && e.at > injectedAt && e.type === 'disconnected')).toEqual(
      [],
    );

    const released = await platform.send<ResultOf<typeof ReleaseQuarantine>>(ReleaseQuarantine, {
      deviceId: tampered,
      note: 'image re-flashed',
    });
    expect(released).toEqual({ deviceId: tampered, released: true });
    await waitFor(
      async () =>
        (await enforcements(tampered)).some((e) => (e.data as { quarantined?: boolean }).quarantined === false),
      {
        description: 'the release applied at the broker',
        ...long,
      },
    );
    const releasedAt = Date.now();
    await waitFor(() => telemetryOf(tampered, releasedAt) >= 1, {
      description: 'its telemetry accepted again',
      ...long,
    });
  }, 180_000);

  test('a silent device is flagged within two periods of its last heartbeat; a clone is flagged as counter-regression', async () => {
    const [silent, cloned] = [devices[1]!, devices[2]!];
    fleet.heartbeats.inject(silent, 'silent');
    fleet.heartbeats.inject(cloned, 'cloned');
    const kinds = async (deviceId: string) =>
      (await integrityEvents(deviceId)).filter((e) => e.type === 'IntegrityViolationDetected').map((e) => e.data);
    const [missing] = await waitFor(async () => ((await kinds(silent)).length ? kinds(silent) : undefined), {
      description: 'the silence recorded',
      ...long,
    });
    expect(missing).toMatchObject({ kind: 'heartbeat-missing', action: 'quarantine', deviceId: silent });
    const [clone] = await waitFor(async () => ((await kinds(cloned)).length ? kinds(cloned) : undefined), {
      description: 'the clone recorded',
      ...long,
    });
    expect(clone).toMatchObject({ kind: 'counter-regression', deviceId: cloned });
  }, 180_000);

  test('a forged heartbeat and a replayed one are refused with their code and write nothing', async () => {
    const victim = devices[3]!;
    // A genuine heartbeat of the device, as the bus carried it.
    const subject = HeartbeatMessage.subject(victim, nats.namespace);
    const captured = await new Promise<Uint8Array>((resolve) => {
      const subscription = nats.nc.subscribe(subject, {
        max: 1,
        callback: (_error, msg) => resolve(new Uint8Array(msg.data)),
      });
      void subscription;
    });
    const before = await heartbeats();
    const envelope = JSON.parse(new TextDecoder().decode(captured)) as Record<string, unknown> & {
      body: Record<string, unknown>;
    };
    const forged = {
      ...envelope,
      counter: Number(envelope.counter) + 1_000,
      body: { ...envelope.body, firmwareMeasurement: 'ee'.repeat(32) },
    };
    nats.nc.publish(subject, new TextEncoder().encode(JSON.stringify(forged)));
    fleet.heartbeats.inject(victim, 'replayed-heartbeat');
    await waitFor(
      async () => {
        const now = await heartbeats();
        return (
          (now['bad-signature'] ?? 0) > (before['bad-signature'] ?? 0) && (now.replayed ?? 0) > (before.replayed ?? 0)
        );
      },
      { description: 'both refused, counted by their code', ...long },
    );
    expect(await integrityEvents(victim)).toEqual([]);
    expect(await enforcements(victim)).toEqual([]);
  }, 180_000);
});
