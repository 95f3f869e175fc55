/**
 * RegisterTarget against real servers: NATS JetStream on NATS_URL (the natsFixture, isolated by
 * namespace) and a real Mosquitto 2.0 with dynamic security started for this file. The registry
 * and the CA are played by appending their events; the device is an MQTT client with a
 * certificate issued here.
 */
import 'reflect-metadata';
import { OnboardDevice, RegisterTarget, type EventEnvelope } from '@tunnelkey/contracts';
import { generatePlatformKey } from '@tunnelkey/device-protocol';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import { CommandClient, CommandFailed } from '@tunnelkey/messaging';
import {
  createBrokerServerIdentity,
  natsFixture,
  startMosquitto,
  waitFor,
  type BrokerServerIdentity,
  type RunningMosquitto,
} from '@tunnelkey/testing';
import type { MqttClient } from 'mqtt';
import { pidFileReloader } from '../mosquitto/broker-trust-files.js';
import { crlDigestOfPem } from '../shared/crl-source.js';
import { startOnboarding, type RunningOnboarding } from '../start-onboarding.js';
import { closed, connectDevice } from '../test-support/mqtt-device.test-helper.js';
import { PlatformFacts } from '../test-support/platform-events.test-helper.js';
import {
  createTestAuthority,
  issueTestCrl,
  issueTestDevice,
  type TestAuthority,
  type TestDevice,
} from '../test-support/test-pki.test-helper.js';

const rights = [
  { topic: 'plant/{deviceId}/telemetry', access: 'publish' as const },
  { topic: 'plant/{deviceId}/commands/#', access: 'subscribe' as const },
];

describe('RegisterTarget (real NATS, a real Mosquitto with dynamic security)', () => {
  const nats = natsFixture({ prefix: 'onbreg' });
  let store: JetStreamEventStore;
  let platform: TestAuthority;
  let server: BrokerServerIdentity;
  let broker: RunningMosquitto;
  let onboarding: RunningOnboarding;
  let commands: CommandClient;
  const devices: Record<string, TestDevice> = {};
  const clients: MqttClient[] = [];
  const crlPems = new Map<string, string>();

  const onboardingEvents = async (): Promise<EventEnvelope[]> => {
    const events: EventEnvelope[] = [];
    await store.replay('onboarding', (r) => void events.push(r.event));
    return events;
  };

  beforeAll(async () => {
    await nats.setup();
    store = new JetStreamEventStore(nats.nc, { namespace: nats.namespace });
    await store.ensureStreams(['registry', 'ca', 'onboarding']);
    [platform, server] = await Promise.all([createTestAuthority('acme'), createBrokerServerIdentity()]);
    for (const id of ['d-reg-1']) devices[id] = await issueTestDevice(platform, id);
    const crl = await issueTestCrl(platform);
    crlPems.set(crlDigestOfPem(crl.crlPem), crl.crlPem);
    broker = await startMosquitto({
      tls: { caPem: platform.chainPem.join(''), certPem: server.certPem, keyPem: server.keyPem, crlPem: crl.crlPem },
    });
    const facts = new PlatformFacts(store);
    await facts.definePolicy('p-plant', ['broker-r'], rights);
    await facts.createBatch('b-plant', 'p-plant', Object.keys(devices).length);
    for (const device of Object.values(devices)) {
      await facts.importDevice(device, 'b-plant');
      await facts.certify(device, platform);
    }
    await facts.publishCrl(platform, crl);

    onboarding = await startOnboarding({
      nats: nats.nc,
      namespace: nats.namespace,
      platformKey: (await generatePlatformKey()).key,
      config: {
        httpPort: 0,
        instanceId: 'test-register',
        // The root onboarding verifies every CA chain it installs under (TRUSTED_ROOT_SHA256).
        trustedRootSha256: platform.root.fingerprintSha256,
      },
      env: {},
      crlSource: { fetch: async ({ crlDigest }) => ({ crlPem: crlPems.get(crlDigest)! }) },
      mosquittoBindings: (targetId) =>
        targetId === 'broker-r'
          ? {
              trust: { caFile: broker.caFile, crlFile: broker.crlFile! },
              reloader: pidFileReloader(broker.pidFile),
              logFile: broker.logFile,
            }
          : undefined,
      serverCaPem: () => server.caPem,
      logger: (await import('pino')).pino({ level: 'silent' }),
    });
    commands = new CommandClient(nats.nc);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await onboarding?.stop();
    store?.close();
    await broker?.stop();
    await nats.teardown();
  }, 30_000);

  const register = (commandId: string, password: string) =>
    commands.request(RegisterTarget.subject(nats.namespace), {
      commandId,
      targetId: 'broker-r',
      kind: 'mosquitto',
      name: 'Plant broker',
      host: '127.0.0.1',
      tlsPort: broker.tlsPort,
      admin: { username: broker.admin.username, password, port: broker.adminPort },
    });

  test('a re-registration with a wrong password is refused and the target stays managed (onboarding and deprovisioning still work)', async () => {
    await expect(register('register-ok', broker.admin.password)).resolves.toEqual({ targetId: 'broker-r' });
    const refused = await register('register-bad', 'not-the-admin-password').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CommandFailed);
    expect((refused as CommandFailed).code).toBe('target-unreachable');

    // The working admin connection is still there: the device is onboarded through it...
    const device = devices['d-reg-1']!;
    const reply = commands.request(OnboardDevice.subject(nats.namespace), {
      commandId: 'onboard-reg-1',
      deviceId: device.deviceId,
    });
    await expect(reply).resolves.toEqual({ devices: 1 });
    const outcome = await waitFor(
      async () =>
        (await onboardingEvents()).find(
          (e) =>
            (e.type === 'DeviceOnboarded' || e.type === 'DeviceOnboardingFailed') && e.aggregateId === device.deviceId,
        ),
      { timeoutMs: 20_000, description: 'the onboarding outcome of d-reg-1' },
    );
    expect(outcome.type).toBe('DeviceOnboarded');
    const session = await connectDevice(device, { port: broker.tlsPort, serverCaPem: server.caPem });
    clients.push(session);
    await session.publishAsync(`plant/${device.deviceId}/telemetry`, '{"t":4}', { qos: 1 });

    // ...and cut off through it.
    const gone = closed(session);
    const deprovisioning = onboarding.deprovisionDevices({
      deviceIds: [device.deviceId],
      reason: 'revoked',
      revocationId: 'rv-reg-1',
      commandId: 'deprovision-reg-1',
    });
    await expect(deprovisioning).resolves.toEqual({ deprovisioned: 1, failed: 0 });
    await gone;
  }, 60_000);
});
