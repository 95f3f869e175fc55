import { brokerOnThisHost, serveBrokerAgent, type RunningBrokerAgent } from '@tunnelkey/broker-link';
import { randomBytes } from 'node:crypto';
/**
 * RegisterTarget against real servers: NATS JetStream on NATS_URL (the natsFixture, isolated by
 * namespace) and a real Mosquitto 2.0 with dynamic security started for this file, with a second
 * admin listener on MQTT over TLS. The admin password is a file in a secrets directory, as a
 * platform team mounts it. The registry and the CA are played by appending their events; the
 * device is an MQTT client with a certificate issued here.
 */
import 'reflect-metadata';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { OnboardDevice, RegisterTarget, type EventEnvelope } from '@tunnelkey/contracts';
import { generatePlatformKey } from '@tunnelkey/device-protocol';
import { Kek } from '@tunnelkey/pki';
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
  let agent: RunningBrokerAgent | undefined;
  let onboarding: RunningOnboarding;
  let commands: CommandClient;
  const devices: Record<string, TestDevice> = {};
  const clients: MqttClient[] = [];
  let secretsDir: string;
  /** The admin listener on MQTT over TLS (server certificate from the broker's own server CA). */
  let adminTlsPort: number;
  /** Every line onboarding logged. */
  const logLines: string[] = [];
  const freePort = () =>
    new Promise<number>((resolve, reject) => {
      const probe = createServer();
      probe.once('error', reject);
      probe.listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });

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
    secretsDir = await mkdtemp(join(tmpdir(), 'tk-onbreg-secrets-'));
    await writeFile(join(secretsDir, 'server.pem'), server.certPem);
    await writeFile(join(secretsDir, 'server.key'), server.keyPem, { mode: 0o600 });
    adminTlsPort = await freePort();
    broker = await startMosquitto({
      tls: { caPem: platform.chainPem.join(''), certPem: server.certPem, keyPem: server.keyPem, crlPem: crl.crlPem },
      extraConfig: [
        `listener ${adminTlsPort} 127.0.0.1`,
        `certfile ${join(secretsDir, 'server.pem')}`,
        `keyfile ${join(secretsDir, 'server.key')}`,
      ],
    });
    await writeFile(join(secretsDir, 'broker-r-admin'), `${broker.admin.password}\n`, { mode: 0o600 });
    await writeFile(join(secretsDir, 'wrong'), 'not-the-admin-password\n', { mode: 0o600 });
    const facts = new PlatformFacts(store);
    await facts.definePolicy('p-plant', ['broker-r'], rights);
    await facts.createBatch('b-plant', 'p-plant', Object.keys(devices).length);
    for (const device of Object.values(devices)) {
      await facts.importDevice(device, 'b-plant');
      await facts.certify(device, platform);
    }
    await facts.publishCrl(platform, crl);

    // The broker's agent, in this process but on the bus as a sidecar would be.
    agent = await serveBrokerAgent({
      nats: nats.nc,
      namespace: nats.namespace,
      broker: brokerOnThisHost('broker-r', { ...broker, crlFile: broker.crlFile! }),
    });
    onboarding = await startOnboarding({
      nats: nats.nc,
      namespace: nats.namespace,
      platformKey: (await generatePlatformKey()).key,
      kek: await Kek.fromBytes(randomBytes(32)),
      config: {
        httpPort: 0,
        instanceId: 'test-register',
        targetSecretsDir: secretsDir,
        // The root onboarding verifies every CA chain it installs under (TRUSTED_ROOT_SHA256).
        trustedRootSha256: platform.root.fingerprintSha256,
      },
      // Where onboarding pins the platform's root (ignored by a build that does not pin one).
      env: { TRUSTED_ROOT_SHA256: platform.root.fingerprintSha256 },
      serverCaPem: () => server.caPem,
      logger: (await import('pino')).pino(
        { level: 'trace' },
        new Writable({
          write(chunk: Buffer, _encoding, done) {
            logLines.push(chunk.toString('utf8'));
            done();
          },
        }),
      ),
    });
    commands = new CommandClient(nats.nc);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await onboarding?.stop();
    await agent?.stop();
    store?.close();
    await broker?.stop();
    await nats.teardown();
    if (secretsDir) await rm(secretsDir, { recursive: true, force: true });
  }, 30_000);

  const register = (commandId: string, admin: Record<string, unknown>, targetId = 'broker-r') =>
    commands.request(RegisterTarget.subject(nats.namespace), {
      commandId,
      targetId,
      kind: 'mosquitto',
      name: 'Plant broker',
      host: '127.0.0.1',
      tlsPort: broker.tlsPort,
      admin: { username: broker.admin.username, port: broker.adminPort, ...admin },
    });

  test('a re-registration with a wrong password is refused and the target stays managed (onboarding and deprovisioning still work)', async () => {
    await expect(register('register-ok', { passwordFile: 'broker-r-admin' })).resolves.toEqual({
      targetId: 'broker-r',
    });
    const refused = await register('register-bad', { passwordFile: 'wrong' }).catch((e: unknown) => e);
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
    expect({ type: outcome.type, data: outcome.data }).toMatchObject({ type: 'DeviceOnboarded' });
    // With the certificate its onboarding issued for this broker (what its connection parameters carry).
    const { certificatePem } = (outcome.data as { certificate: { certificatePem: string } }).certificate;
    const session = await connectDevice(
      { ...device, certificatePem },
      { port: broker.tlsPort, serverCaPem: server.caPem },
    );
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

  test('the admin connection can be MQTT over TLS to a separate listener, verified against the CA given', async () => {
    const overTls = { passwordFile: 'broker-r-admin', port: adminTlsPort, tls: { caPem: server.caPem } };
    await expect(register('register-tls', overTls, 'broker-tls')).resolves.toEqual({ targetId: 'broker-tls' });
    // A listener whose certificate the given CA did not sign is refused.
    const otherCa = await createBrokerServerIdentity();
    const unverified = await register(
      'register-tls-other-ca',
      { ...overTls, tls: { caPem: otherCa.caPem } },
      'broker-x',
    )
      .then(() => undefined)
      .catch((e: unknown) => e);
    expect(unverified).toBeInstanceOf(CommandFailed);
    expect((unverified as CommandFailed).code).toBe('target-unreachable');
    const events = await onboardingEvents();
    expect(events.filter((e) => e.type === 'TargetRegistered').map((e) => e.aggregateId)).toContain('broker-tls');
    expect(events.some((e) => e.aggregateId === 'broker-x')).toBe(false);
  }, 30_000);

  test('the admin password is in no event, log line or reply; a password sent in plain text is refused', async () => {
    const plain = 'plain-text-admin-password';
    const replies: unknown[] = [];
    const send = (commandId: string, admin: Record<string, unknown>, targetId: string) =>
      register(commandId, admin, targetId).then(
        (reply) => replies.push(reply),
        (error: unknown) => replies.push({ ...(error as object), message: (error as Error).message }),
      );
    await send('secret-ok', { passwordFile: 'broker-r-admin' }, 'broker-s');
    await send('secret-wrong', { passwordFile: 'wrong' }, 'broker-s2');
    await send('secret-missing', { passwordFile: 'nowhere' }, 'broker-s3');
    await send('secret-plain', { password: plain }, 'broker-s4');
    await send('secret-plain-right', { password: broker.admin.password }, 'broker-s5');
    expect(replies.map((r) => (r as { code?: string }).code)).toEqual([
      undefined,
      'target-unreachable',
      'secret-unavailable',
      'plaintext-secret-refused',
      'plaintext-secret-refused',
    ]);
    const events = await onboardingEvents();
    expect(events.filter((e) => e.type === 'TargetRegistered').map((e) => e.aggregateId)).not.toContain('broker-s5');
    expect(logLines.length).toBeGreaterThan(0);
    for (const [what, text] of [
      ['events', JSON.stringify(events)],
      ['logs', logLines.join('')],
      ['replies', JSON.stringify(replies)],
    ] as const) {
      expect({ what, leaks: text.includes(broker.admin.password) }).toEqual({ what, leaks: false });
      expect({ what, leaks: text.includes(plain) }).toEqual({ what, leaks: false });
      expect({ what, leaks: text.includes('not-the-admin-password') }).toEqual({ what, leaks: false });
    }
  }, 30_000);
});
