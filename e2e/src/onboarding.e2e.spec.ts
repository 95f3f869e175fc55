/**
 * Issue 5's acceptance, end to end on real servers: NATS on NATS_URL (isolated by a namespace) and
 * a real Mosquitto 2.0 started for this file with the deploy/mosquitto settings. The registry, the
 * CA and the onboarding service run in-process with 200 simulated PUF devices: provisioned
 * (import, verify, certify), onboarded to the broker (RegisterTarget + OnboardBatch), connected
 * with mutual TLS (certificate + PUF-derived key) and publishing fridge telemetry. The onboarding
 * service's own log must show DeviceConnected and a first TelemetryReceived for every device.
 */
import { randomUUID } from 'node:crypto';
import type { EventEnvelope } from '@tunnelkey/contracts';
import { createFleet, type Fleet } from '@tunnelkey/device-fleet';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import { natsFixture, waitFor } from '@tunnelkey/testing';
import { connectAsync } from 'mqtt';
import { pino } from 'pino';
import { operator, startPlatform, targetId, type Platform } from './support/platform.js';

const nats = natsFixture({ prefix: 'onbe2e' });
const fleetSize = 200;
const logger = pino({ level: 'warn' });

describe(`onboarding ${fleetSize} PUF devices to a real Mosquitto: provisioned -> onboarded -> connected over mutual TLS -> telemetry recorded`, () => {
  let platform: Platform;
  let fleet: Fleet;
  let store: JetStreamEventStore;
  let connectSummary: ReturnType<Fleet['connect']>;
  const batchId = `fridges-${randomUUID().slice(0, 8)}`;

  const onboardingEvents = async (): Promise<EventEnvelope[]> => {
    const events: EventEnvelope[] = [];
    await store.replay('onboarding', (r) => void events.push(r.event));
    return events;
  };
  const devicesWith = (
    events: EventEnvelope[],
    type: string,
    where: (data: Record<string, unknown>) => boolean = () => true,
  ) =>
    new Set(
      events
        .filter((e) => e.type === type && where(e.data as Record<string, unknown>))
        .map((e) => (e.data as { deviceId: string }).deviceId),
    );

  beforeAll(async () => {
    await nats.setup();
    platform = await startPlatform({ nats: nats.nc, namespace: nats.namespace, logger, telemetryIntervalMs: 1_000 });
    store = new JetStreamEventStore(nats.nc, { namespace: nats.namespace });
    fleet = await createFleet({
      nats: nats.nc,
      namespace: nats.namespace,
      size: fleetSize,
      seedBase: `onb-e2e-${batchId}`,
      platformPublicKey: platform.platformPublicKeySpki,
    });
    await operator.defineBatch(platform, batchId, fleetSize);
    await expect(operator.importIdentities(platform, fleet, batchId)).resolves.toEqual({
      accepted: fleetSize,
      rejected: 0,
    });
    await operator.verify(platform, batchId, fleetSize);
    await operator.certify(platform, batchId, fleetSize);
    await platform.startBroker();
    // The flow every test looks at, set up once so that the tests can run in any order.
    await operator.registerBroker(platform);
    await operator.onboard(platform, fleet, batchId, fleetSize);
    connectSummary = fleet.connect({ telemetryIntervalMs: 2_000, concurrency: 32 });
    await waitFor(() => fleet.stats().mqtt.delivered === fleetSize, {
      description: 'every device had telemetry acknowledged',
      timeoutMs: 120_000,
    });
  }, 480_000);

  afterAll(async () => {
    await fleet?.stop();
    store?.close();
    await platform?.stop();
    await nats.teardown();
  }, 60_000);

  test('every certified device is onboarded and receives its connection parameters', async () => {
    const devices = [...fleet.devices()];
    expect(devices.filter((d) => d.state === 'configured')).toHaveLength(fleetSize);
    const sample = devices[3]!.flash.connections[targetId]!;
    expect(sample).toMatchObject({
      endpoint: { protocol: 'mqtts', host: '127.0.0.1', port: platform.broker.tlsPort },
      clientId: devices[3]!.deviceId,
      topicPrefix: `fridges/${devices[3]!.deviceId}`,
    });
    expect(sample.serverCaPem).toBe(platform.serverIdentity.caPem);
    const onboarded = devicesWith(await onboardingEvents(), 'DeviceOnboarded', (d) => d.targetId === targetId);
    expect(onboarded.size).toBe(fleetSize);
  }, 300_000);

  test('each device connects with its certificate and PUF-derived key, publishes, and the onboarding service records it', async () => {
    expect(connectSummary).toEqual({ started: fleetSize, skipped: { offline: 0, noCertificate: 0, notOnboarded: 0 } });
    const mqtt = fleet.stats().mqtt;
    expect(mqtt).toMatchObject({ links: fleetSize, connected: fleetSize, publishRefused: 0, failuresByReason: {} });

    const events = await waitFor(
      async () => {
        const all = await onboardingEvents();
        return devicesWith(all, 'DeviceConnected', (d) => d.targetId === targetId).size === fleetSize &&
          devicesWith(all, 'TelemetryReceived', (d) => d.targetId === targetId && d.kind === 'first').size === fleetSize
          ? all
          : undefined;
      },
      { description: 'DeviceConnected + first TelemetryReceived for every device in the log', timeoutMs: 120_000 },
    );
    // The broker took the MQTT identity from the certificate (use_identity_as_username): client id = device id.
    const connected = events
      .filter((e) => e.type === 'DeviceConnected')
      .map((e) => e.data as { deviceId: string; clientId: string });
    expect(connected.every((d) => d.clientId === d.deviceId)).toBe(true);
    // Never one event per message: one "first" per device, then periodic counters.
    expect(
      events.filter((e) => e.type === 'TelemetryReceived' && (e.data as { kind: string }).kind === 'first'),
    ).toHaveLength(fleetSize);
  }, 300_000);

  test('a client with a valid-looking identity but no certificate is refused; a device id cannot be taken without its key', async () => {
    const device = [...fleet.devices()][0]!;
    const refused = await connectAsync({
      protocol: 'mqtts',
      host: '127.0.0.1',
      port: platform.broker.tlsPort,
      ca: platform.serverIdentity.caPem,
      clientId: device.deviceId,
      reconnectPeriod: 0,
      connectTimeout: 5_000,
    }).then(
      async (client) => {
        await client.endAsync(true);
        return false;
      },
      () => true,
    );
    expect(refused).toBe(true);
    // The genuine device is still connected and publishing.
    expect(fleet.stats().mqtt.connected).toBe(fleetSize);
  });

  test('stopTelemetry keeps the sessions and stops publishing', async () => {
    fleet.stopTelemetry();
    const before = fleet.stats().mqtt.published;
    try {
      // Not a fixed sleep: wait until every device's next message came due, so each would have published.
      await waitFor(() => fleet.stats().mqtt.withheld === fleetSize, {
        description: 'every device due while telemetry is off',
        timeoutMs: 30_000,
      });
      expect(fleet.stats().mqtt).toMatchObject({ connected: fleetSize, telemetry: 'off', published: before });
    } finally {
      fleet.startTelemetry();
    }
  });
});
