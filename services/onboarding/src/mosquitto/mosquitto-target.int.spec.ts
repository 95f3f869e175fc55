/**
 * The Mosquitto adapter against a real Mosquitto 2.0 (started per file by @tunnelkey/testing's
 * startMosquitto), with certificates issued here by @tunnelkey/pki. Security properties are
 * checked against the broker itself, never a mock.
 */
import { readFile } from 'node:fs/promises';
import type { MqttClient } from 'mqtt';
import {
  createBrokerServerIdentity,
  startMosquitto,
  waitFor,
  type BrokerServerIdentity,
  type RunningMosquitto,
} from '@tunnelkey/testing';
import { closed, connectDevice } from '../test-support/mqtt-device.test-helper.js';
import {
  createTestAuthority,
  issueTestCrl,
  issueTestDevice,
  type TestAuthority,
  type TestDevice,
} from '../test-support/test-pki.test-helper.js';
import type { RevocationList, TargetObservation, TrustAnchor } from '../target-port/onboarding-target.js';
import { pidFileReloader } from './broker-trust-files.js';
import { DynsecClient, type DynsecResponse } from './dynsec-client.js';
import { MosquittoTarget } from './mosquitto-target.js';

const rights = [
  { topic: 'devices/{deviceId}/telemetry', access: 'publish' as const },
  { topic: 'devices/{deviceId}/commands/#', access: 'subscribe' as const },
];

describe('MosquittoTarget against a real Mosquitto 2.0 (mutual TLS, dynamic security)', () => {
  let broker: RunningMosquitto;
  let server: BrokerServerIdentity;
  let platform: TestAuthority;
  /** A CA the broker never trusts. */
  let evil: TestAuthority;
  /** A second issuing CA, trusted once a test adds it. */
  let second: TestAuthority;
  let target: MosquittoTarget;
  const devices: Record<string, TestDevice> = {};
  const observations: TargetObservation[] = [];
  const clients: MqttClient[] = [];
  let brokerTls: { caPem: string; certPem: string; keyPem: string; crlPem: string };
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

  const connect = async (
    device: TestDevice | undefined,
    extra: { clientId?: string; withoutCertificate?: boolean } = {},
  ) => {
    const client = await connectDevice(device, { port: broker.tlsPort, serverCaPem: server.caPem, ...extra });
    clients.push(client);
    return client;
  };
  const seen = (predicate: (o: TargetObservation) => boolean) =>
    waitFor(() => observations.find(predicate), { timeoutMs: 5_000 });

  // What the tests need, set up by whichever test needs it first: no test depends on another having run.
  let registration: Promise<unknown> | undefined;
  const registered = () =>
    (registration ??= target.registerDevices(
      ['d-alpha', 'd-bravo', 'd-charlie'].map((deviceId) => ({ deviceId, topicRights: rights })),
    ));
  /** The trust in force: a test that changes it applies all of it (anchors; CRLs listing every revoked device). */
  const trusted: TrustAnchor[] = [];
  const revoked: { serialHex: string }[] = [];
  const secondCrl: RevocationList[] = [];
  const applyTrust = async () => {
    const crl = await issueTestCrl(platform, revoked);
    await target.applyTrust({ anchors: trusted, crls: [{ authorityId: platform.authorityId, ...crl }, ...secondCrl] });
  };

  beforeAll(async () => {
    [server, platform, evil, second] = await Promise.all([
      createBrokerServerIdentity(),
      createTestAuthority('acme'),
      createTestAuthority('evil'),
      createTestAuthority('second'),
    ]);
    for (const id of ['d-alpha', 'd-bravo', 'd-charlie', 'd-delta', 'd-echo', 'd-foxtrot', 'd-stranger'])
      devices[id] = await issueTestDevice(platform, id);
    devices['d-forged'] = await issueTestDevice(evil, 'd-forged');
    devices['d-second'] = await issueTestDevice(second, 'd-second');
    const crl = await issueTestCrl(platform);
    brokerTls = {
      caPem: platform.chainPem.join(''),
      certPem: server.certPem,
      keyPem: server.keyPem,
      crlPem: crl.crlPem,
    };
    trusted.push({ authorityId: platform.authorityId, chainPem: platform.chainPem });
    broker = await startMosquitto({ tls: brokerTls, dynsec: true });
    target = await MosquittoTarget.connect({
      targetId: 'broker-1',
      host: broker.host,
      tlsPort: broker.tlsPort,
      admin: { port: broker.adminPort, ...broker.admin },
      binding: {
        trust: { caFile: broker.caFile, crlFile: broker.crlFile! },
        reloader: pidFileReloader(broker.pidFile),
        logFile: broker.logFile,
      },
    });
    await target.observeTopics(rights);
    await target.watch((o) => observations.push(o));
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await target?.close();
    await broker?.stop();
  });

  test('registers devices with a role per device and reports each one', async () => {
    const outcomes = await target.registerDevices(
      ['d-alpha', 'd-bravo', 'd-charlie'].map((deviceId) => ({ deviceId, topicRights: rights })),
    );
    expect(outcomes).toEqual(
      ['d-alpha', 'd-bravo', 'd-charlie'].map((deviceId) => ({
        ok: true,
        deviceId,
        clientId: deviceId,
        roleName: `role-${deviceId}`,
        topicPrefix: `devices/${deviceId}`,
      })),
    );
    // Idempotent: a retry converges instead of failing on "already exists".
    expect(await target.registerDevices([{ deviceId: 'd-alpha', topicRights: rights }])).toEqual([outcomes[0]]);
    expect(target.connectionParameters(outcomes[0] as never)).toEqual({
      endpoint: { protocol: 'mqtts', host: '127.0.0.1', port: broker.tlsPort },
      clientId: 'd-alpha',
      topicPrefix: 'devices/d-alpha',
    });
  });

  test('an onboarded device connects with mutual TLS and its telemetry is observed', async () => {
    await registered();
    const before = observations.length;
    const alpha = await connect(devices['d-alpha']);
    await seen((o) => observations.indexOf(o) >= before && o.kind === 'connected' && o.clientId === 'd-alpha');
    await alpha.publishAsync('devices/d-alpha/telemetry', JSON.stringify({ temperature: 4.2, door: 'closed' }), {
      qos: 1,
    });
    const telemetry = await seen(
      (o) => observations.indexOf(o) >= before && o.kind === 'telemetry' && o.deviceId === 'd-alpha',
    );
    expect(telemetry).toMatchObject({ topic: 'devices/d-alpha/telemetry' });
  });

  test('a valid certificate that was not onboarded connects but may neither publish nor subscribe', async () => {
    await registered();
    const stranger = await connect(devices['d-stranger']);
    await expect(stranger.publishAsync('devices/d-stranger/telemetry', 'x', { qos: 1 })).rejects.toThrow(
      /not authori[sz]ed|135/i,
    );
    await expect(stranger.subscribeAsync('devices/d-stranger/commands/#', { qos: 1 })).rejects.toThrow(
      /not authori[sz]ed/i,
    );
    // A message sent after the refused one is observed: had the refused one gone through, it would have been too.
    const alpha = await connect(devices['d-alpha']);
    const before = observations.length;
    await alpha.publishAsync('devices/d-alpha/telemetry', 'marker', { qos: 1 });
    await seen((o) => observations.indexOf(o) >= before && o.kind === 'telemetry' && o.deviceId === 'd-alpha');
    expect(observations.some((o) => o.kind === 'telemetry' && o.deviceId === 'd-stranger')).toBe(false);
  });

  test('a certificate from another CA fails the TLS handshake', async () => {
    await expect(
      connectDevice(devices['d-forged'], { port: broker.tlsPort, serverCaPem: server.caPem }),
    ).rejects.toThrow();
  });

  test('a client without a certificate is refused', async () => {
    await expect(
      connectDevice(undefined, { port: broker.tlsPort, serverCaPem: server.caPem, clientId: 'd-alpha' }),
    ).rejects.toThrow();
  });

  test("device A can neither publish to B's topics nor take B's client id", async () => {
    await registered();
    const bravo = await connect(devices['d-bravo']);
    const alpha = await connect(devices['d-alpha']);
    await expect(alpha.publishAsync('devices/d-bravo/telemetry', 'spoof', { qos: 1 })).rejects.toThrow(
      /not authori[sz]ed|135/i,
    );
    await expect(alpha.subscribeAsync('devices/d-bravo/commands/#', { qos: 1 })).rejects.toThrow(/not authori[sz]ed/i);
    await alpha.subscribeAsync('devices/d-alpha/commands/#', { qos: 1 });
    // use_username_as_clientid: the broker replaces the requested id with the certificate's CN.
    const before = observations.length;
    const impostor = await connect(devices['d-alpha'], { clientId: 'd-bravo' });
    // A takeover of d-bravo's session would be logged before the new connection that is awaited here.
    await seen((o) => observations.indexOf(o) >= before && o.kind === 'connected' && o.clientId === 'd-alpha');
    expect(bravo.connected).toBe(true);
    expect(observations.slice(before).some((o) => o.kind === 'disconnected' && o.clientId === 'd-bravo')).toBe(false);
    await bravo.publishAsync('devices/d-bravo/telemetry', 'still here', { qos: 1 });
    await impostor.endAsync();
  });

  test('disabling a device drops its live connection and leaves a reconnect without rights', async () => {
    await registered();
    const charlie = await connect(devices['d-charlie']);
    await charlie.publishAsync('devices/d-charlie/telemetry', 'before', { qos: 1 });
    const gone = closed(charlie);
    const before = observations.length;
    expect(await target.disableDevices(['d-charlie'])).toEqual([{ ok: true, deviceId: 'd-charlie' }]);
    await gone;
    // Cut off by a session takeover (admin user, the device's client id) before dynamic security saves
    // anything; reported as what it is, a disable.
    await seen(
      (o) =>
        observations.indexOf(o) >= before &&
        o.kind === 'disconnected' &&
        o.clientId === 'd-charlie' &&
        o.reason === 'client-disabled',
    );
    // The takeover's own connect and disconnect are not reported as the device's (the log may still
    // bring the device's own connect, from before, after `before`).
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const charlieSeen = observations.slice(before).filter((o) => 'clientId' in o && o.clientId === 'd-charlie');
    expect(charlieSeen.filter((o) => o.kind === 'disconnected')).toHaveLength(1);
    expect(charlieSeen.at(-1)).toMatchObject({ kind: 'disconnected', reason: 'client-disabled' });
    expect(await readFile(broker.logFile, 'utf8')).toMatch(
      /Client d-charlie already connected, closing old connection/,
    );
    // Mosquitto 2.0.11 lets a disabled certificate identity connect again (no password check), so the role is gone too.
    const again = await connect(devices['d-charlie']).catch((error: Error) => error);
    if (!(again instanceof Error))
      await expect(again.publishAsync('devices/d-charlie/telemetry', 'after', { qos: 1 })).rejects.toThrow(
        /not authori[sz]ed|135/i,
      );
    // Enabling gives the rights back.
    expect(await target.enableDevices([{ deviceId: 'd-charlie', topicRights: rights }])).toEqual([
      { ok: true, deviceId: 'd-charlie' },
    ]);
    const back = await connect(devices['d-charlie']);
    await back.publishAsync('devices/d-charlie/telemetry', 'back', { qos: 1 });
  });

  test('a certificate revoked in a reloaded CRL fails new handshakes; other devices keep connecting', async () => {
    await target.registerDevices([{ deviceId: 'd-delta', topicRights: rights }]);
    const deltaSession = await connect(devices['d-delta']);
    revoked.push({ serialHex: devices['d-delta']!.serialHex });
    await applyTrust();
    await expect(
      connectDevice(devices['d-delta'], { port: broker.tlsPort, serverCaPem: server.caPem }),
    ).rejects.toThrow();
    await connect(devices['d-alpha']);
    // What revocation must know: a CRL reload does not drop the session that was already up.
    expect(deltaSession.connected).toBe(true);
  });

  test('trust is a set: adding a second issuing CA lets its onboarded devices in', async () => {
    if (!trusted.some((a) => a.authorityId === second.authorityId)) {
      trusted.push({ authorityId: second.authorityId, chainPem: second.chainPem });
      secondCrl.push({ authorityId: second.authorityId, ...(await issueTestCrl(second)) });
    }
    await applyTrust();
    await target.registerDevices([{ deviceId: 'd-second', topicRights: rights }]);
    const nowTrusted = await connect(devices['d-second']);
    await nowTrusted.publishAsync('devices/d-second/telemetry', 'ok', { qos: 1 });
    await connect(devices['d-alpha']); // the first CA's devices still get in
  });

  test('an anchor without a CRL is refused while the broker checks CRLs', async () => {
    await expect(target.applyTrust({ anchors: trusted, crls: [] })).rejects.toThrow(/no CRL/);
  });

  test('a CRL file the broker cannot load fails applyTrust instead of passing for enforced', async () => {
    const unreadable = {
      authorityId: platform.authorityId,
      crlNumber: 99,
      crlPem: '-----BEGIN X509 CRL-----\nAAAA\n\n-----END X509 CRL-----\n',
    };
    await expect(target.applyTrust({ anchors: [trusted[0]!], crls: [unreadable] })).rejects.toThrow(
      /could not load the trust files/,
    );
    await applyTrust();
    await connect(devices['d-alpha']);
  });

  test('deleting a device removes its client and role', async () => {
    await target.registerDevices([{ deviceId: 'd-echo', topicRights: rights }]);
    expect(await target.deleteDevices(['d-echo', 'd-never-onboarded'])).toEqual([
      { ok: true, deviceId: 'd-echo' },
      { ok: true, deviceId: 'd-never-onboarded' },
    ]);
    const echo = await connect(devices['d-echo']);
    await expect(echo.publishAsync('devices/d-echo/telemetry', 'gone', { qos: 1 })).rejects.toThrow(
      /not authori[sz]ed|135/i,
    );
  });

  test("a policy change replaces the device's rights at the broker: the old ones are gone", async () => {
    const before = [
      { topic: 'devices/{deviceId}/telemetry', access: 'publish' as const },
      { topic: 'devices/{deviceId}/legacy/#', access: 'publish-subscribe' as const },
    ];
    const after = [{ topic: 'devices/{deviceId}/telemetry', access: 'publish' as const }];
    expect(await target.registerDevices([{ deviceId: 'd-foxtrot', topicRights: before }])).toMatchObject([
      { ok: true },
    ]);
    expect(await target.registerDevices([{ deviceId: 'd-foxtrot', topicRights: after }])).toMatchObject([{ ok: true }]);
    const [role] = await asOperator(broker, (admin) =>
      admin.execute([{ command: 'getRole', rolename: 'role-d-foxtrot' } as never]),
    );
    expect(dataOf(role).role).toMatchObject({
      rolename: 'role-d-foxtrot',
      acls: [{ acltype: 'publishClientSend', topic: 'devices/d-foxtrot/telemetry', allow: true }],
    });
    const foxtrot = await connect(devices['d-foxtrot']);
    await expect(foxtrot.publishAsync('devices/d-foxtrot/legacy/x', 'old right', { qos: 1 })).rejects.toThrow(
      /not authori[sz]ed|135/i,
    );
    await foxtrot.publishAsync('devices/d-foxtrot/telemetry', 'new right', { qos: 1 });
  });

  test('connecting to a broker whose default ACL access allows publishing and subscribing sets both to deny, and says so', async () => {
    const open = await startMosquitto({ tls: brokerTls, dynsec: true });
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
      // A certificate the platform never onboarded may do nothing there.
      const stranger = await connectDevice(devices['d-stranger'], { port: open.tlsPort, serverCaPem: server.caPem });
      clients.push(stranger);
      await expect(stranger.publishAsync('devices/d-stranger/telemetry', 'x', { qos: 1 })).rejects.toThrow(
        /not authori[sz]ed|135/i,
      );
    } finally {
      await other?.close();
      await open.stop();
    }
  });
});
