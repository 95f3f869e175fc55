/**
 * Onboarding end to end on real servers: NATS JetStream on NATS_URL (the natsFixture, isolated by
 * namespace) and two real Mosquitto 2.0 brokers started for this file. The registry and the CA are
 * played by appending their events; devices are MQTT clients with certificates issued here.
 */
import 'reflect-metadata';
import { OnboardBatch, RegisterTarget, deviceUplinkFilter, type EventEnvelope } from '@tunnelkey/contracts';
import { generatePlatformKey } from '@tunnelkey/device-protocol';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import { CommandClient, CommandFailed } from '@tunnelkey/messaging';
import { createBrokerServerIdentity, natsFixture, startMosquitto, waitFor, type BrokerServerIdentity, type RunningMosquitto } from '@tunnelkey/testing';
import type { MqttClient } from 'mqtt';
import { pidFileReloader } from './mosquitto/broker-trust-files.js';
import { crlDigestOfPem } from './shared/crl-source.js';
import { startOnboarding, type RunningOnboarding } from './start-onboarding.js';
import { closed, connectDevice } from './test-support/mqtt-device.test-helper.js';
import { PlatformFacts } from './test-support/platform-events.test-helper.js';
import { createTestAuthority, issueTestCrl, issueTestDevice, type TestAuthority, type TestDevice } from './test-support/test-pki.test-helper.js';

const deviceCount = 50;
const rights = [
  { topic: 'fridges/{deviceId}/telemetry', access: 'publish' as const },
  { topic: 'fridges/{deviceId}/commands/#', access: 'subscribe' as const },
];

describe('onboarding service (real NATS, two real Mosquitto brokers)', () => {
  const nats = natsFixture({ prefix: 'onb' });
  let store: JetStreamEventStore;
  let platform: TestAuthority;
  let server: BrokerServerIdentity;
  let brokers: Record<'broker-a' | 'broker-b', RunningMosquitto>;
  let onboarding: RunningOnboarding;
  let commands: CommandClient;
  const devices: TestDevice[] = [];
  const clients: MqttClient[] = [];
  const crlPems = new Map<string, string>();
  const downlinks: string[] = [];

  const onboardingEvents = async (): Promise<EventEnvelope[]> => {
    const events: EventEnvelope[] = [];
    await store.replay('onboarding', (r) => void events.push(r.event));
    return events;
  };
  const count = (events: EventEnvelope[], type: string, where: (data: Record<string, unknown>) => boolean = () => true) =>
    events.filter((e) => e.type === type && where(e.data as Record<string, unknown>)).length;

  beforeAll(async () => {
    await nats.setup();
    store = new JetStreamEventStore(nats.nc, { namespace: nats.namespace });
    await store.ensureStreams(['registry', 'ca', 'onboarding']);
    const decoy = await createTestAuthority('decoy');
    [platform, server] = await Promise.all([createTestAuthority('acme'), createBrokerServerIdentity()]);
    for (let i = 0; i < deviceCount; i++) devices.push(await issueTestDevice(platform, `d-fridge-${String(i).padStart(3, '0')}`));
    // Brokers start trusting an unrelated CA: onboarding must install the platform's chain and CRL itself.
    const decoyCrl = await issueTestCrl(decoy);
    const start = () => startMosquitto({ tls: { caPem: decoy.chainPem.join(''), certPem: server.certPem, keyPem: server.keyPem, crlPem: decoyCrl.crlPem } });
    const [a, b] = await Promise.all([start(), start()]);
    brokers = { 'broker-a': a, 'broker-b': b };

    const facts = new PlatformFacts(store);
    await facts.definePolicy('p-fridges', ['broker-a', 'broker-b'], rights);
    await facts.createBatch('b-fridges', 'p-fridges', deviceCount);
    await Promise.all(devices.map((d) => facts.importDevice(d, 'b-fridges')));
    await Promise.all(devices.map((d) => facts.certify(d, platform)));
    const crl = await issueTestCrl(platform);
    crlPems.set(crlDigestOfPem(crl.crlPem), crl.crlPem);
    await facts.publishCrl(platform, crl);

    nats.nc.subscribe(deviceUplinkFilter(undefined, nats.namespace).replace('.*.*', '.*.inbox.connection-parameters'), { callback: (_e, msg) => void downlinks.push(msg.subject) });
    onboarding = await startOnboarding({
      nats: nats.nc,
      namespace: nats.namespace,
      platformKey: (await generatePlatformKey()).key,
      config: { httpPort: 0, instanceId: 'test', telemetryIntervalMs: 200 },
      env: {},
      crlSource: { fetch: async ({ crlDigest }) => ({ crlPem: crlPems.get(crlDigest)! }) },
      mosquittoBindings: (targetId) => {
        const broker = brokers[targetId as keyof typeof brokers];
        return broker ? { trust: { caFile: broker.caFile, crlFile: broker.crlFile! }, reloader: pidFileReloader(broker.pidFile), logFile: broker.logFile } : undefined;
      },
      serverCaPem: () => server.caPem,
      logger: (await import('pino')).pino({ level: 'warn' }),
    });
    commands = new CommandClient(nats.nc);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await onboarding?.stop();
    store?.close();
    await Promise.all(Object.values(brokers ?? {}).map((b) => b.stop()));
    await nats.teardown();
  }, 60_000);

  const register = (targetId: keyof typeof brokers, password = brokers[targetId].admin.password) =>
    commands.request(RegisterTarget.subject(nats.namespace), {
      commandId: `register-${targetId}-${password.length}`,
      targetId,
      kind: 'mosquitto',
      name: `Fridge plant ${targetId}`,
      host: '127.0.0.1',
      tlsPort: brokers[targetId].tlsPort,
      admin: { username: brokers[targetId].admin.username, password, port: brokers[targetId].adminPort },
    });

  test('RegisterTarget refuses credentials the broker refuses, and keeps the secret out of the log', async () => {
    const refused = await register('broker-a', 'wrong-password').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CommandFailed);
    expect((refused as CommandFailed).code).toBe('target-unreachable');
    await expect(register('broker-a')).resolves.toEqual({ targetId: 'broker-a' });
    await expect(register('broker-b')).resolves.toEqual({ targetId: 'broker-b' });
    const events = JSON.stringify(await onboardingEvents());
    expect(count(await onboardingEvents(), 'TargetRegistered')).toBe(2);
    expect(events).not.toContain(brokers['broker-a'].admin.password);
    expect(events).not.toContain('wrong-password');
  });

  test(`OnboardBatch onboards ${deviceCount} certified devices to both brokers of the policy and sends their connection parameters`, async () => {
    const started = Date.now();
    await expect(commands.request(OnboardBatch.subject(nats.namespace), { commandId: 'onboard-1', batchId: 'b-fridges' })).resolves.toEqual({ devices: deviceCount });
    const events = await waitFor(async () => {
      const all = await onboardingEvents();
      return count(all, 'DeviceOnboarded') === 2 * deviceCount ? all : undefined;
    }, { timeoutMs: 60_000, description: 'every device onboarded to both brokers' });
    process.stdout.write(`onboarded ${deviceCount} devices x 2 brokers in ${Date.now() - started} ms\n`);
    expect(count(events, 'DeviceOnboarded', (d) => d.targetId === 'broker-b' && d.topicPrefix === `fridges/${d.deviceId}`)).toBe(deviceCount);
    expect(count(events, 'TargetTrustAnchorInstalled')).toBe(2);
    expect(count(events, 'TargetCrlUpdated')).toBe(2);
    await waitFor(() => downlinks.length >= 2 * deviceCount, { description: 'connection parameters sent' });
  }, 90_000);

  test('each device connects with mutual TLS and publishes; DeviceConnected and TelemetryReceived are recorded (first, then counters)', async () => {
    const broker = brokers['broker-a'];
    const connected = await Promise.all(devices.map((d) => connectDevice(d, { port: broker.tlsPort, serverCaPem: server.caPem })));
    clients.push(...connected);
    await Promise.all(connected.map((c, i) => c.publishAsync(`fridges/${devices[i]!.deviceId}/telemetry`, JSON.stringify({ temperature: 4 + i / 100, door: 'closed' }), { qos: 1 })));
    await Promise.all(connected.map((c, i) => c.publishAsync(`fridges/${devices[i]!.deviceId}/telemetry`, JSON.stringify({ temperature: 4.1, door: 'open' }), { qos: 1 })));
    const events = await waitFor(async () => {
      const all = await onboardingEvents();
      return count(all, 'DeviceConnected', (d) => d.targetId === 'broker-a') >= deviceCount &&
        count(all, 'TelemetryReceived', (d) => d.kind === 'first') >= deviceCount &&
        count(all, 'TelemetryReceived', (d) => d.kind === 'periodic') >= deviceCount
        ? all
        : undefined;
    }, { timeoutMs: 30_000, description: 'connections and telemetry recorded' });
    // Never one event per message: 2 messages per device -> one first + one periodic.
    expect(count(events, 'TelemetryReceived')).toBe(2 * deviceCount);
    expect(count(events, 'TelemetryReceived', (d) => d.kind === 'periodic' && d.messagesTotal === 2 && d.messagesInWindow === 1)).toBe(deviceCount);
  }, 60_000);

  test('the same batch works on the second broker', async () => {
    const device = devices[1]!;
    const client = await connectDevice(device, { port: brokers['broker-b'].tlsPort, serverCaPem: server.caPem });
    clients.push(client);
    await client.publishAsync(`fridges/${device.deviceId}/telemetry`, '{"temperature":5}', { qos: 1 });
    await waitFor(async () => count(await onboardingEvents(), 'TelemetryReceived', (d) => d.targetId === 'broker-b' && d.deviceId === device.deviceId) === 1);
  });

  test('revocation path: deprovisioning drops live sessions on every broker; a refreshed CRL fails new handshakes', async () => {
    const victim = devices[0]!;
    const session = clients[0]!;
    const gone = closed(session);
    await expect(onboarding.deprovisionDevices({ deviceIds: [victim.deviceId], reason: 'revoked', revocationId: 'rv-1', commandId: 'revoke-1' })).resolves.toEqual({ deprovisioned: 2, failed: 0 });
    await gone;
    const crl = await issueTestCrl(platform, [{ serialHex: victim.serialHex }]);
    await expect(onboarding.refreshTrust({ authorityId: platform.authorityId, crl: { authorityId: platform.authorityId, ...crl }, commandId: 'crl-2' })).resolves.toEqual(['broker-a', 'broker-b']);
    await expect(connectDevice(victim, { port: brokers['broker-a'].tlsPort, serverCaPem: server.caPem })).rejects.toThrow();
    const events = await waitFor(async () => {
      const all = await onboardingEvents();
      return count(all, 'DeviceDisconnected', (d) => d.deviceId === victim.deviceId && d.reason === 'client-disabled') >= 1 ? all : undefined;
    });
    expect(count(events, 'DeviceDeprovisioned', (d) => d.deviceId === victim.deviceId)).toBe(2);
    expect(count(events, 'TargetCrlUpdated', (d) => d.crlNumber === crl.crlNumber)).toBe(2);
    // The other devices keep publishing.
    await clients[2]!.publishAsync(`fridges/${devices[2]!.deviceId}/telemetry`, '{"temperature":4}', { qos: 1 });
  });

  test('reacts to the CA on its own: on CrlPublished the new CRL is installed first, then the revoked device is disabled everywhere', async () => {
    const victim = devices[1]!;
    const gone = closed(clients[1]!);
    const facts = new PlatformFacts(store);
    await facts.revoke(victim, platform, 'rv-2');
    const crl = await issueTestCrl(platform, [{ serialHex: devices[0]!.serialHex }, { serialHex: victim.serialHex }]);
    crlPems.set(crlDigestOfPem(crl.crlPem), crl.crlPem);
    await facts.publishCrl(platform, crl, 2);
    await gone; // dynamic security dropped the live session, after the CRL was in force
    const events = await waitFor(async () => {
      const all = await onboardingEvents();
      const enforced = count(all, 'TargetCrlUpdated', (d) => d.crlNumber === crl.crlNumber) === 2;
      return enforced && count(all, 'DeviceDeprovisioned', (d) => d.deviceId === victim.deviceId && d.revocationId === 'rv-2') === 2 ? all : undefined;
    }, { description: 'deprovisioned on both brokers and the new CRL enforced', timeoutMs: 20_000 });
    expect(count(events, 'DeviceDeprovisioned', (d) => d.deviceId === victim.deviceId)).toBe(2);
    await expect(connectDevice(victim, { port: brokers['broker-b'].tlsPort, serverCaPem: server.caPem })).rejects.toThrow();
    await clients[2]!.publishAsync(`fridges/${devices[2]!.deviceId}/telemetry`, '{"temperature":4}', { qos: 1 });
  });

  test('unknown batch and unknown target are refused with clear codes', async () => {
    await expect(commands.request(OnboardBatch.subject(nats.namespace), { commandId: 'onboard-x', batchId: 'b-nope' })).rejects.toMatchObject({ code: 'unknown-batch' });
    await expect(commands.request(OnboardBatch.subject(nats.namespace), { commandId: 'onboard-y', batchId: 'b-fridges', targetIds: ['broker-z'] })).rejects.toMatchObject({ code: 'unknown-target' });
  });
});
