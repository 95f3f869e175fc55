/**
 * The Mosquitto adapter against a real Mosquitto 2.0 (started per file by @tunnelkey/testing's
 * startMosquitto), with certificates issued here by @tunnelkey/pki: the platform's (an issuing CA
 * under a root) and the target's own CA, which alone the broker trusts (docs/decisions/0001).
 * Security properties are checked against the broker itself, never a mock.
 */
import { readFile } from 'node:fs/promises';
import { connectAsync, type MqttClient } from 'mqtt';
import { BrokerAgentClient, brokerOnThisHost, serveBrokerAgent, type RunningBrokerAgent } from '@tunnelkey/broker-link';
import { generateP256KeyPair, WebCryptoSigner } from '@tunnelkey/pki';
import {
  createBrokerServerIdentity,
  natsFixture,
  startMosquitto,
  waitFor,
  type BrokerServerIdentity,
  type RunningMosquitto,
} from '@tunnelkey/testing';
import { TargetAuthority, type TargetCrlEntry } from '../target-authority/target-authority.js';
import { closed, connectDevice } from '../test-support/mqtt-device.test-helper.js';
import {
  createTestAuthority,
  issueTestDevice,
  type TestAuthority,
  type TestDevice,
} from '../test-support/test-pki.test-helper.js';
import type { TargetObservation } from '../target-port/onboarding-target.js';
import type { TopicRightSpec } from '../target-port/topic-plan.js';
import { DynsecClient, type DynsecResponse } from './dynsec-client.js';
import { MosquittoTarget } from './mosquitto-target.js';

const rights: TopicRightSpec[] = [
  { topic: 'devices/{deviceId}/telemetry', access: 'publish' },
  { topic: 'devices/{deviceId}/commands/#', access: 'subscribe' },
];

describe('MosquittoTarget against a real Mosquitto 2.0 (mutual TLS, target CA, acl_file patterns)', () => {
  let broker: RunningMosquitto;
  const nats = natsFixture({ prefix: 'mqt' });
  let agent: RunningBrokerAgent | undefined;
  let server: BrokerServerIdentity;
  /** The platform's issuing CA: its certificates are not the target's. */
  let platform: TestAuthority;
  /** A CA the broker never trusts. */
  let evil: TestAuthority;
  let authority: TargetAuthority;
  let target: MosquittoTarget;
  /** Each device's platform certificate and key. */
  const platformCertified: Record<string, TestDevice> = {};
  /** The same keys with their target certificates: what onboarding sends them. */
  const onboarded: Record<string, TestDevice> = {};
  const observations: TargetObservation[] = [];
  const clients: MqttClient[] = [];
  /** The broker's dynamic security as its operator sees it (a client of its own). */
  const asOperator = async <T>(of: RunningMosquitto, work: (admin: DynsecClient) => Promise<T>): Promise<T> => {
    const admin = await DynsecClient.connect({ host: of.host, port: of.adminPort, ...of.admin });
    try {
      return await work(admin);
    } finally {
      await admin.close();
    }
  };
  const dataOf = (response: DynsecResponse | undefined) => response?.data as Record<string, never>;

  const connect = async (device: TestDevice | undefined, extra: { clientId?: string } = {}, of = broker) => {
    const client = await connectDevice(device, { port: of.tlsPort, serverCaPem: server.caPem, ...extra });
    clients.push(client);
    return client;
  };
  const refused = (device: TestDevice | undefined, extra: { clientId?: string } = {}) =>
    expect(connectDevice(device, { port: broker.tlsPort, serverCaPem: server.caPem, ...extra })).rejects.toThrow();
  const seen = (predicate: (o: TargetObservation) => boolean) =>
    waitFor(() => observations.find(predicate), { timeoutMs: 5_000 });

  /** The trust in force: a test that changes it applies all of it (the CRL lists every device cut off). */
  let crlNumber = 0;
  const listed: TargetCrlEntry[] = [];
  let topicRights = rights;
  const applyTrust = async (changes: { list?: string[]; topicRights?: TopicRightSpec[] } = {}) => {
    for (const deviceId of changes.list ?? [])
      listed.push({ serialNumber: onboarded[deviceId]!.serialHex, revokedAt: new Date() });
    topicRights = changes.topicRights ?? topicRights;
    const crl = await authority.crl({ crlNumber: ++crlNumber, revoked: listed, now: new Date(), lifetimeMs: 3600_000 });
    await target.applyTrust({
      anchors: [{ authorityId: authority.authorityId, chainPem: [authority.certificatePem] }],
      crls: [crl],
      topicRights,
    });
  };

  beforeAll(async () => {
    [server, platform, evil] = await Promise.all([
      createBrokerServerIdentity(),
      createTestAuthority('acme'),
      createTestAuthority('evil'),
    ]);
    authority = await TargetAuthority.selfSigned(
      'broker-1',
      await WebCryptoSigner.fromKeyPair(await generateP256KeyPair()),
      new Date(),
    );
    for (const id of ['d-alpha', 'd-bravo', 'd-charlie', 'd-delta', 'd-echo', 'd-stranger']) {
      const device = await issueTestDevice(platform, id);
      platformCertified[id] = device;
      const issued = await authority.issue({
        deviceId: id,
        publicKeySpki: device.spkiDer,
        notBefore: new Date(Date.now() - 3600_000),
        notAfter: new Date(Date.now() + 24 * 3600_000),
      });
      onboarded[id] = { ...device, certificatePem: issued.certificatePem, serialHex: issued.serialNumber };
    }
    const forged = await issueTestDevice(evil, 'd-forged');
    onboarded['d-forged'] = forged;
    // The broker starts trusting the target's CA already (the e2e platform starts it with a bootstrap CA instead).
    const first = await authority.crl({ crlNumber: ++crlNumber, revoked: [], now: new Date(), lifetimeMs: 3600_000 });
    broker = await startMosquitto({
      tls: { caPem: authority.certificatePem, certPem: server.certPem, keyPem: server.keyPem, crlPem: first.crlPem },
      dynsec: true,
    });
    await nats.setup();
    agent = await serveBrokerAgent({
      nats: nats.nc,
      namespace: nats.namespace,
      broker: brokerOnThisHost('broker-1', { ...broker, crlFile: broker.crlFile! }),
    });
    target = await MosquittoTarget.connect({
      targetId: 'broker-1',
      host: broker.host,
      tlsPort: broker.tlsPort,
      admin: { port: broker.adminPort, ...broker.admin },
      // The broker's agent in this process, on the bus like a sidecar's: the adapter reaches it over NATS only.
      agent: new BrokerAgentClient(nats.nc, 'broker-1', { namespace: nats.namespace }),
    });
    await applyTrust();
    await target.observeTopics(rights);
    await target.watch((o) => observations.push(o));
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await target?.close();
    await agent?.stop();
    await nats.teardown();
    await broker?.stop();
  });

  test('registering devices works out their place and costs the broker nothing', async () => {
    const aclBefore = await readFile(broker.aclFile, 'utf8');
    const dynsecBefore = await readFile(broker.dynsecFile, 'utf8');
    const outcomes = await target.registerDevices(
      ['d-alpha', 'd-bravo'].map((deviceId) => ({ deviceId, topicRights: rights })),
    );
    expect(outcomes).toEqual(
      ['d-alpha', 'd-bravo'].map((deviceId) => ({
        ok: true,
        deviceId,
        clientId: deviceId,
        roleName: expect.stringMatching(/^acl-[0-9a-f]{16}$/),
        topicPrefix: `devices/${deviceId}`,
      })),
    );
    expect(await target.registerDevices([{ deviceId: 'd-alpha', topicRights: rights }])).toEqual([outcomes[0]]);
    expect(target.connectionParameters(outcomes[0] as never)).toEqual({
      endpoint: { protocol: 'mqtts', host: '127.0.0.1', port: broker.tlsPort },
      clientId: 'd-alpha',
      topicPrefix: 'devices/d-alpha',
    });
    expect(await readFile(broker.aclFile, 'utf8')).toBe(aclBefore);
    expect(await readFile(broker.dynsecFile, 'utf8')).toBe(dynsecBefore);
    expect(aclBefore).toContain('pattern write devices/%u/telemetry\npattern read devices/%u/commands/#\n');
  });

  test('an onboarded device connects with its target certificate and its telemetry is observed', async () => {
    const before = observations.length;
    const alpha = await connect(onboarded['d-alpha']);
    await seen((o) => observations.indexOf(o) >= before && o.kind === 'connected' && o.clientId === 'd-alpha');
    await alpha.publishAsync('devices/d-alpha/telemetry', JSON.stringify({ temperature: 4.2, door: 'closed' }), {
      qos: 1,
    });
    const telemetry = await seen(
      (o) => observations.indexOf(o) >= before && o.kind === 'telemetry' && o.deviceId === 'd-alpha',
    );
    expect(telemetry).toMatchObject({ topic: 'devices/d-alpha/telemetry' });
  });

  test('a valid platform certificate that was never onboarded here fails the handshake', async () => {
    await refused(platformCertified['d-stranger']);
    // Nor does a device's own platform certificate get it in: only its target certificate does.
    await refused(platformCertified['d-alpha']);
  });

  test('a certificate from another CA fails the TLS handshake', async () => {
    await refused(onboarded['d-forged']);
  });

  test('a client without a certificate is refused', async () => {
    await refused(undefined, { clientId: 'd-alpha' });
  });

  test("device A can neither publish to B's topics, receive B's messages, nor take B's client id", async () => {
    const bravo = await connect(onboarded['d-bravo']);
    const alpha = await connect(onboarded['d-alpha']);
    await expect(alpha.publishAsync('devices/d-bravo/telemetry', 'spoof', { qos: 1 })).rejects.toThrow(
      /not authori[sz]ed|135/i,
    );
    // A subscription to B's topics receives nothing (Mosquitto 2.0 checks an acl_file's read right on delivery).
    const toAlpha: string[] = [];
    const toBravo: string[] = [];
    alpha.on('message', (topic) => toAlpha.push(topic));
    bravo.on('message', (topic) => toBravo.push(topic));
    await alpha.subscribeAsync(['devices/d-bravo/commands/#', 'devices/d-alpha/commands/#'], { qos: 1 });
    await bravo.subscribeAsync('devices/d-bravo/commands/#', { qos: 1 });
    // Someone allowed to send the devices commands: a client of the broker's own operator.
    await asOperator(broker, (admin) =>
      admin.execute([
        {
          command: 'createRole',
          rolename: 'commander',
          acls: [{ acltype: 'publishClientSend', topic: 'devices/+/commands/#', allow: true }],
        },
        {
          command: 'createClient',
          username: 'commander',
          password: 'commander-pw',
          roles: [{ rolename: 'commander' }],
        },
      ] as never),
    );
    const operator = await connectAsync({
      host: broker.host,
      port: broker.adminPort,
      username: 'commander',
      password: 'commander-pw',
      reconnectPeriod: 0,
    });
    clients.push(operator);
    await operator.publishAsync('devices/d-bravo/commands/open', 'for bravo', { qos: 1 });
    await operator.publishAsync('devices/d-alpha/commands/open', 'for alpha', { qos: 1 });
    await waitFor(() => toAlpha.includes('devices/d-alpha/commands/open') && toBravo.length === 1, {
      timeoutMs: 5_000,
    });
    expect(toAlpha).toEqual(['devices/d-alpha/commands/open']);
    // use_username_as_clientid: the broker replaces the requested id with the certificate's CN.
    const before = observations.length;
    const impostor = await connect(onboarded['d-alpha'], { clientId: 'd-bravo' });
    await seen((o) => observations.indexOf(o) >= before && o.kind === 'connected' && o.clientId === 'd-alpha');
    expect(bravo.connected).toBe(true);
    expect(observations.slice(before).some((o) => o.kind === 'disconnected' && o.clientId === 'd-bravo')).toBe(false);
    await bravo.publishAsync('devices/d-bravo/telemetry', 'still here', { qos: 1 });
    await impostor.endAsync();
  });

  test('cutting a device off: its certificate on the CRL, its session taken over, its reconnect refused', async () => {
    const charlie = await connect(onboarded['d-charlie']);
    const delta = await connect(onboarded['d-delta']);
    await charlie.publishAsync('devices/d-charlie/telemetry', 'before', { qos: 1 });
    await applyTrust({ list: ['d-charlie', 'd-delta'] });
    // What revocation must know: a CRL reload does not drop a session that is already up...
    expect(delta.connected).toBe(true);
    // ...but new handshakes with a listed certificate fail.
    await refused(onboarded['d-delta']);
    const gone = closed(charlie);
    const before = observations.length;
    expect(await target.disableDevices(['d-charlie'])).toEqual([{ ok: true, deviceId: 'd-charlie' }]);
    await gone;
    // Cut off by a session takeover (admin user, the device's client id); reported as what it is, a disable.
    await seen(
      (o) =>
        observations.indexOf(o) >= before &&
        o.kind === 'disconnected' &&
        o.clientId === 'd-charlie' &&
        o.reason === 'client-disabled',
    );
    expect(await readFile(broker.logFile, 'utf8')).toMatch(
      /Client d-charlie already connected, closing old connection/,
    );
    await refused(onboarded['d-charlie']);
    await connect(onboarded['d-alpha']); // the others keep connecting
  });

  test("the acl_file follows the target's policies: a right no policy grants any more is gone", async () => {
    const legacy: TopicRightSpec = { topic: 'devices/{deviceId}/legacy/#', access: 'publish-subscribe' };
    await applyTrust({ topicRights: [...rights, legacy] });
    const echo = await connect(onboarded['d-echo']);
    await echo.publishAsync('devices/d-echo/legacy/x', 'granted', { qos: 1 });
    await expect(echo.publishAsync('devices/d-alpha/legacy/x', 'not its own', { qos: 1 })).rejects.toThrow(
      /not authori[sz]ed|135/i,
    );
    await applyTrust({ topicRights: rights });
    await expect(echo.publishAsync('devices/d-echo/legacy/x', 'withdrawn', { qos: 1 })).rejects.toThrow(
      /not authori[sz]ed|135/i,
    );
    await echo.publishAsync('devices/d-echo/telemetry', 'still granted', { qos: 1 });
  });

  test('an anchor without a CRL is refused while the broker checks CRLs', async () => {
    await expect(
      target.applyTrust({
        anchors: [{ authorityId: authority.authorityId, chainPem: [authority.certificatePem] }],
        crls: [],
        topicRights: rights,
      }),
    ).rejects.toThrow(/no CRL/);
  });

  test('a CRL file the broker cannot load fails applyTrust instead of passing for enforced', async () => {
    const unreadable = {
      authorityId: authority.authorityId,
      crlNumber: 99,
      crlPem: '-----BEGIN X509 CRL-----\nAAAA\n\n-----END X509 CRL-----\n',
    };
    await expect(
      target.applyTrust({
        anchors: [{ authorityId: authority.authorityId, chainPem: [authority.certificatePem] }],
        crls: [unreadable],
        topicRights: rights,
      }),
    ).rejects.toThrow(/could not load the trust files/);
    await applyTrust();
    await connect(onboarded['d-alpha']);
  });

  test('connecting to a broker whose default ACL access allows publishing and subscribing sets both to deny, and says so', async () => {
    const first = await authority.crl({ crlNumber: 1, revoked: [], now: new Date(), lifetimeMs: 3600_000 });
    const open = await startMosquitto({
      tls: { caPem: authority.certificatePem, certPem: server.certPem, keyPem: server.keyPem, crlPem: first.crlPem },
      dynsec: true,
    });
    let other: MosquittoTarget | undefined;
    try {
      const allowAll = [
        { acltype: 'publishClientSend', allow: true },
        { acltype: 'subscribe', allow: true },
      ];
      await asOperator(open, (admin) => admin.execute([{ command: 'setDefaultACLAccess', acls: allowAll } as never]));
      const denied: unknown[] = [];
      other = await MosquittoTarget.connect({
        targetId: 'broker-open',
        host: open.host,
        tlsPort: open.tlsPort,
        admin: { port: open.adminPort, ...open.admin },
        agent: new BrokerAgentClient(nats.nc, 'broker-open', { namespace: nats.namespace }),
        onDefaultAccessDenied: (wasAllowed) => denied.push(wasAllowed),
      });
      const [access] = await asOperator(open, (admin) => admin.execute([{ command: 'getDefaultACLAccess' }]));
      expect(dataOf(access).acls).toEqual(
        expect.arrayContaining([
          { acltype: 'publishClientSend', allow: false },
          { acltype: 'subscribe', allow: false },
        ]),
      );
      expect(denied).toEqual([['publishClientSend', 'subscribe']]);
      // With no acl_file pattern for it, even a device this broker admits may do nothing there.
      const alpha = await connect(onboarded['d-alpha'], {}, open);
      await expect(alpha.publishAsync('devices/d-alpha/telemetry', 'x', { qos: 1 })).rejects.toThrow(
        /not authori[sz]ed|135/i,
      );
    } finally {
      await other?.close();
      await open.stop();
    }
  });
});
