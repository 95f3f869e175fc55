/**
 * Onboarding end to end on real servers: NATS JetStream on NATS_URL (the natsFixture, isolated by
 * namespace) and two real Mosquitto 2.0 brokers started for this file. The registry and the CA are
 * played by appending their events; devices are MQTT clients with certificates issued here.
 */
import { brokerOnThisHost, serveBrokerAgent, type RunningBrokerAgent } from '@tunnelkey/broker-link';
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OnboardBatch, RegisterTarget, deviceUplinkFilter, type EventEnvelope } from '@tunnelkey/contracts';
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
import { startOnboarding, type RunningOnboarding } from './start-onboarding.js';
import { closed, connectDevice } from './test-support/mqtt-device.test-helper.js';
import { PlatformFacts } from './test-support/platform-events.test-helper.js';
import {
  createTestAuthority,
  issueTestCrl,
  issueTestDevice,
  type TestAuthority,
  type TestDevice,
} from './test-support/test-pki.test-helper.js';

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
  let agents: RunningBrokerAgent[] = [];
  let onboarding: RunningOnboarding;
  let commands: CommandClient;
  const devices: TestDevice[] = [];
  const clients: MqttClient[] = [];
  const downlinks: string[] = [];

  const onboardingEvents = async (): Promise<EventEnvelope[]> => {
    const events: EventEnvelope[] = [];
    await store.replay('onboarding', (r) => void events.push(r.event));
    return events;
  };
  const count = (
    events: EventEnvelope[],
    type: string,
    where: (data: Record<string, unknown>) => boolean = () => true,
  ) => events.filter((e) => e.type === type && where(e.data as Record<string, unknown>)).length;

  beforeAll(async () => {
    await nats.setup();
    store = new JetStreamEventStore(nats.nc, { namespace: nats.namespace });
    await store.ensureStreams(['registry', 'ca', 'onboarding']);
    const decoy = await createTestAuthority('decoy');
    [platform, server] = await Promise.all([createTestAuthority('acme'), createBrokerServerIdentity()]);
    for (let i = 0; i < deviceCount; i++)
      devices.push(await issueTestDevice(platform, `d-fridge-${String(i).padStart(3, '0')}`));
    // Brokers start trusting an unrelated CA: onboarding must install each target's own CA and CRL itself.
    const decoyCrl = await issueTestCrl(decoy);
    const start = () =>
      startMosquitto({
        tls: {
          caPem: decoy.chainPem.join(''),
          certPem: server.certPem,
          keyPem: server.keyPem,
          crlPem: decoyCrl.crlPem,
        },
      });
    const [a, b] = await Promise.all([start(), start()]);
    brokers = { 'broker-a': a, 'broker-b': b };
    secretsDir = await mkdtemp(join(tmpdir(), 'tk-onb-secrets-'));
    await writeFile(join(secretsDir, 'broker-a-admin'), `${a.admin.password}\n`, { mode: 0o600 });
    await writeFile(join(secretsDir, 'broker-b-admin'), `${b.admin.password}\n`, { mode: 0o600 });
    await writeFile(join(secretsDir, 'wrong'), 'wrong-password\n', { mode: 0o600 });

    const facts = new PlatformFacts(store);
    await facts.definePolicy('p-fridges', ['broker-a', 'broker-b'], rights);
    await facts.createBatch('b-fridges', 'p-fridges', deviceCount);
    await Promise.all(devices.map((d) => facts.importDevice(d, 'b-fridges')));
    await Promise.all(devices.map((d) => facts.certify(d, platform)));
    await facts.publishCrl(platform, await issueTestCrl(platform));

    nats.nc.subscribe(deviceUplinkFilter(undefined, nats.namespace).replace('.*.*', '.*.inbox.connection-parameters'), {
      callback: (_e, msg) => void downlinks.push(msg.subject),
    });
    // Each broker's agent, in this process but on the bus, as a sidecar would be: onboarding reaches them over NATS only.
    agents = await Promise.all(
      Object.entries(brokers).map(([id, broker]) =>
        serveBrokerAgent({
          nats: nats.nc,
          namespace: nats.namespace,
          broker: brokerOnThisHost(id, { ...broker, crlFile: broker.crlFile! }),
        }),
      ),
    );
    onboarding = await startOnboarding({
      nats: nats.nc,
      namespace: nats.namespace,
      platformKey: (await generatePlatformKey()).key,
      kek: await Kek.fromBytes(randomBytes(32)),
      config: {
        httpPort: 0,
        instanceId: 'test',
        telemetryIntervalMs: 200,
        targetSecretsDir: secretsDir,
        // The root every platform certificate must verify under before it gets a target certificate.
        trustedRootSha256: platform.root.fingerprintSha256,
      },
      env: {},
      serverCaPem: () => server.caPem,
      logger: (await import('pino')).pino({ level: 'warn' }),
    });
    commands = new CommandClient(nats.nc);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await onboarding?.stop();
    await Promise.all(agents.map((agent) => agent.stop()));
    store?.close();
    await Promise.all(Object.values(brokers ?? {}).map((b) => b.stop()));
    await nats.teardown();
    if (secretsDir) await rm(secretsDir, { recursive: true, force: true });
  }, 60_000);

  /** The admin passwords, as the platform team mounts them: one file each in the secrets directory. */
  let secretsDir: string;
  const register = (targetId: string, broker: RunningMosquitto, passwordFile = `${targetId}-admin`) =>
    commands.request(RegisterTarget.subject(nats.namespace), {
      commandId: `register-${targetId}-${passwordFile}`,
      targetId,
      kind: 'mosquitto',
      name: `Fridge plant ${targetId}`,
      host: '127.0.0.1',
      tlsPort: broker.tlsPort,
      admin: { username: broker.admin.username, passwordFile, port: broker.adminPort },
    });

  // What the tests need, set up by whichever test needs it first: no test depends on another having run.
  let registration: Promise<void> | undefined;
  const targetsRegistered = () =>
    (registration ??= (async () => {
      for (const targetId of ['broker-a', 'broker-b'] as const) {
        await expect(register(targetId, brokers[targetId])).resolves.toEqual({ targetId });
      }
    })());
  let onboardingRun: Promise<void> | undefined;
  const batchOnboarded = () =>
    (onboardingRun ??= (async () => {
      await targetsRegistered();
      const reply = commands.request(OnboardBatch.subject(nats.namespace), {
        commandId: 'onboard-1',
        batchId: 'b-fridges',
      });
      await expect(reply).resolves.toEqual({ devices: deviceCount });
      await waitFor(async () => count(await onboardingEvents(), 'DeviceOnboarded') === 2 * deviceCount, {
        timeoutMs: 60_000,
        description: 'every device onboarded to both brokers',
      });
    })());
  /** The device with its certificate for the target, as its connection parameters carried it (DeviceOnboarded too). */
  const onTarget = async (device: TestDevice, targetId: keyof typeof brokers): Promise<TestDevice> => {
    const onboarded = (await onboardingEvents()).find((e) => {
      const data = e.data as { deviceId: string; targetId: string };
      return e.type === 'DeviceOnboarded' && data.deviceId === device.deviceId && data.targetId === targetId;
    });
    const certificate = (onboarded?.data as { certificate?: { certificatePem: string } } | undefined)?.certificate;
    if (!certificate) throw new Error(`${device.deviceId} has no certificate for ${targetId}`);
    return { ...device, certificatePem: certificate.certificatePem };
  };
  const connectTo = async (device: TestDevice, targetId: keyof typeof brokers) =>
    connectDevice(await onTarget(device, targetId), { port: brokers[targetId].tlsPort, serverCaPem: server.caPem });
  const connected = async (device: TestDevice, targetId: keyof typeof brokers) => {
    await batchOnboarded();
    const client = await connectTo(device, targetId);
    clients.push(client);
    return client;
  };
  /** The platform's CRLs list every device revoked so far, whichever test revoked it. */
  const revokedSerials: { serialHex: string }[] = [];
  const nextCrl = async (victim: TestDevice) => {
    revokedSerials.push({ serialHex: victim.serialHex });
    return issueTestCrl(platform, revokedSerials);
  };
  const ownCa = (d: Record<string, unknown>) => String(d.authorityId).startsWith('tca-');

  test('RegisterTarget refuses credentials the broker refuses, and keeps the secret out of the log', async () => {
    const refused = await register('broker-c', brokers['broker-a'], 'wrong').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CommandFailed);
    expect((refused as CommandFailed).code).toBe('target-unreachable');
    await targetsRegistered();
    const events = await onboardingEvents();
    expect(count(events, 'TargetRegistered')).toBe(2);
    expect(count(events, 'TargetRegistered', (d) => d.targetId === 'broker-c')).toBe(0);
    expect(JSON.stringify(events)).not.toContain(brokers['broker-a'].admin.password);
    expect(JSON.stringify(events)).not.toContain('wrong-password');
  });

  test(`OnboardBatch onboards ${deviceCount} certified devices to both brokers of the policy and sends their connection parameters`, async () => {
    const started = Date.now();
    await batchOnboarded();
    process.stdout.write(`onboarded ${deviceCount} devices x 2 brokers in ${Date.now() - started} ms\n`);
    const events = await onboardingEvents();
    expect(
      count(events, 'DeviceOnboarded', (d) => d.targetId === 'broker-b' && d.topicPrefix === `fridges/${d.deviceId}`),
    ).toBe(deviceCount);
    // Each broker its own CA and that CA's first CRL; nothing of the platform's.
    expect(count(events, 'TargetTrustAnchorInstalled', ownCa)).toBe(2);
    expect(count(events, 'TargetTrustAnchorInstalled')).toBe(2);
    expect(count(events, 'TargetCrlUpdated', (d) => ownCa(d) && d.crlNumber === 1)).toBe(2);
    // A platform certificate alone does not get a device in.
    await expect(
      connectDevice(devices[7]!, { port: brokers['broker-a'].tlsPort, serverCaPem: server.caPem }),
    ).rejects.toThrow();
    await waitFor(() => downlinks.length >= 2 * deviceCount, { description: 'connection parameters sent' });
  }, 90_000);

  test('each device connects with mutual TLS and publishes; DeviceConnected and TelemetryReceived are recorded (first, then counters)', async () => {
    const fleet = devices.slice(10);
    const ids = new Set(fleet.map((d) => d.deviceId));
    const ours = (d: Record<string, unknown>) => ids.has(d.deviceId as string);
    const sessions = await Promise.all(fleet.map((d) => connected(d, 'broker-a')));
    const telemetry = (i: number, body: object) =>
      sessions[i]!.publishAsync(`fridges/${fleet[i]!.deviceId}/telemetry`, JSON.stringify(body), { qos: 1 });
    await Promise.all(sessions.map((_c, i) => telemetry(i, { temperature: 4 + i / 100, door: 'closed' })));
    await Promise.all(sessions.map((_c, i) => telemetry(i, { temperature: 4.1, door: 'open' })));
    const events = await waitFor(
      async () => {
        const all = await onboardingEvents();
        const received = (kind: string) => count(all, 'TelemetryReceived', (d) => ours(d) && d.kind === kind);
        const connections = count(all, 'DeviceConnected', (d) => ours(d) && d.targetId === 'broker-a');
        return connections >= fleet.length && received('first') >= fleet.length && received('periodic') >= fleet.length
          ? all
          : undefined;
      },
      { timeoutMs: 30_000, description: 'connections and telemetry recorded' },
    );
    // Never one event per message: 2 messages per device -> one first + one periodic.
    expect(count(events, 'TelemetryReceived', ours)).toBe(2 * fleet.length);
    const periodic = (d: Record<string, unknown>) =>
      ours(d) && d.kind === 'periodic' && d.messagesTotal === 2 && d.messagesInWindow === 1;
    expect(count(events, 'TelemetryReceived', periodic)).toBe(fleet.length);
  }, 60_000);

  test("a connection and a disconnection the broker's agent never reported (it was down) are recorded from its next report of who is connected", async () => {
    await batchOnboarded();
    const device = devices[8]!;
    const onB = (d: Record<string, unknown>) => d.targetId === 'broker-b' && d.deviceId === device.deviceId;
    const agentOfB = async (run: () => Promise<unknown>) => {
      // broker-b's agent down while the device comes or goes: its fact is never published.
      await agents[1]!.stop();
      await run();
      agents[1] = await serveBrokerAgent({
        nats: nats.nc,
        namespace: nats.namespace,
        broker: brokerOnThisHost('broker-b', { ...brokers['broker-b'], crlFile: brokers['broker-b'].crlFile! }),
        reportEveryMs: 250,
      });
    };
    let client: MqttClient | undefined;
    await agentOfB(async () => {
      client = await connectTo(device, 'broker-b');
      await waitFor(async () => (await brokers['broker-b'].log()).includes(`as ${device.deviceId} `), {
        description: 'the connection logged',
      });
    });
    const connectedEvent = await waitFor(
      async () => (await onboardingEvents()).find((e) => e.type === 'DeviceConnected' && onB(e.data as never)),
      { description: 'the connection recorded from the report' },
    );
    expect(connectedEvent.data).toMatchObject({ clientId: device.deviceId, tlsProtocol: 'unknown' });

    await agentOfB(async () => {
      await client!.endAsync();
      await waitFor(async () => (await brokers['broker-b'].log()).includes(`Client ${device.deviceId} disconnected`), {
        description: 'the disconnection logged',
      });
    });
    const disconnected = await waitFor(
      async () => (await onboardingEvents()).find((e) => e.type === 'DeviceDisconnected' && onB(e.data as never)),
      { description: 'the disconnection recorded from the report' },
    );
    expect(disconnected.data).toMatchObject({ reason: 'unknown' });
    // Reports go on: nothing is recorded twice.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const events = await onboardingEvents();
    expect(count(events, 'DeviceConnected', onB)).toBe(1);
    expect(count(events, 'DeviceDisconnected', onB)).toBe(1);
  }, 60_000);

  test('the same batch works on the second broker', async () => {
    const device = devices[5]!;
    const client = await connected(device, 'broker-b');
    await client.publishAsync(`fridges/${device.deviceId}/telemetry`, '{"temperature":5}', { qos: 1 });
    const onB = (d: Record<string, unknown>) => d.targetId === 'broker-b' && d.deviceId === device.deviceId;
    await waitFor(async () => count(await onboardingEvents(), 'TelemetryReceived', onB) === 1);
  });

  test("revocation path: deprovisioning lists the device on every broker's CRL and drops its live sessions", async () => {
    const victim = devices[0]!;
    const [session, bystander] = [await connected(victim, 'broker-a'), await connected(devices[3]!, 'broker-a')];
    const gone = closed(session);
    const deprovisioning = {
      deviceIds: [victim.deviceId],
      reason: 'revoked' as const,
      revocationId: 'rv-1',
      commandId: 'revoke-1',
    };
    await expect(onboarding.deprovisionDevices(deprovisioning)).resolves.toEqual({ deprovisioned: 2, failed: 0 });
    await gone;
    await expect(connectTo(victim, 'broker-a')).rejects.toThrow();
    await expect(connectTo(victim, 'broker-b')).rejects.toThrow();
    const crl = await nextCrl(victim);
    const refresh = onboarding.refreshTrust({
      authorityId: platform.authorityId,
      crlNumber: crl.crlNumber,
      commandId: 'crl-2',
    });
    await expect(refresh).resolves.toEqual(['broker-a', 'broker-b']);
    const events = await waitFor(async () => {
      const all = await onboardingEvents();
      const dropped = (d: Record<string, unknown>) => d.deviceId === victim.deviceId && d.reason === 'client-disabled';
      return count(all, 'DeviceDisconnected', dropped) >= 1 ? all : undefined;
    });
    expect(count(events, 'DeviceDeprovisioned', (d) => d.deviceId === victim.deviceId)).toBe(2);
    const enforced = (d: Record<string, unknown>) =>
      d.authorityId === platform.authorityId && d.crlNumber === crl.crlNumber;
    expect(count(events, 'TargetCrlUpdated', enforced)).toBe(2);
    // The other devices keep publishing.
    await bystander.publishAsync(`fridges/${devices[3]!.deviceId}/telemetry`, '{"temperature":4}', { qos: 1 });
  });

  test("reacts to the CA on its own: on CrlPublished every broker's CRL lists the device first, then its sessions are dropped", async () => {
    const victim = devices[1]!;
    const [session, bystander] = [await connected(victim, 'broker-a'), await connected(devices[4]!, 'broker-a')];
    const gone = closed(session);
    const facts = new PlatformFacts(store);
    await facts.revoke(victim, platform, 'rv-2');
    const crl = await nextCrl(victim);
    await facts.publishCrl(platform, crl, revokedSerials.length);
    await gone; // its session taken over, after the broker's CRL listed it
    const events = await waitFor(
      async () => {
        const all = await onboardingEvents();
        const ofCrl = (d: Record<string, unknown>) =>
          d.authorityId === platform.authorityId && d.crlNumber === crl.crlNumber;
        const enforced = count(all, 'TargetCrlUpdated', ofCrl) === 2;
        const cutOff = (d: Record<string, unknown>) => d.deviceId === victim.deviceId && d.revocationId === 'rv-2';
        return enforced && count(all, 'DeviceDeprovisioned', cutOff) === 2 ? all : undefined;
      },
      { description: 'deprovisioned on both brokers and the new CRL enforced', timeoutMs: 20_000 },
    );
    expect(count(events, 'DeviceDeprovisioned', (d) => d.deviceId === victim.deviceId)).toBe(2);
    await expect(connectTo(victim, 'broker-b')).rejects.toThrow();
    await bystander.publishAsync(`fridges/${devices[4]!.deviceId}/telemetry`, '{"temperature":4}', { qos: 1 });
  });

  test('unknown batch and unknown target are refused with clear codes', async () => {
    await targetsRegistered();
    const onboard = (payload: object) => commands.request(OnboardBatch.subject(nats.namespace), payload);
    await expect(onboard({ commandId: 'onboard-x', batchId: 'b-nope' })).rejects.toMatchObject({
      code: 'unknown-batch',
    });
    const unknownTarget = onboard({ commandId: 'onboard-y', batchId: 'b-fridges', targetIds: ['broker-z'] });
    await expect(unknownTarget).rejects.toMatchObject({ code: 'unknown-target' });
  });
});
