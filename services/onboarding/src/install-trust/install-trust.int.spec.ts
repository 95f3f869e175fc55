/**
 * Trust on a real broker (NATS JetStream on NATS_URL, a real Mosquitto 2.0 started for this file):
 * the broker's cafile holds the target's own CA only, its crlfile that CA's CRL, and a device gets a
 * target certificate only when its platform certificate verifies under the pinned root. A forged
 * issuing CA (self-signed, or under another root) gets no device in; a CRL the CA's events announce
 * is never installed as it comes. What is installed is checked with the openssl CLI too.
 */
import { brokerOnThisHost, serveBrokerAgent, type RunningBrokerAgent } from '@tunnelkey/broker-link';
import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OnboardDevice, RegisterTarget, type EventEnvelope } from '@tunnelkey/contracts';
import { generatePlatformKey } from '@tunnelkey/device-protocol';
import { Kek } from '@tunnelkey/pki';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import { CommandClient } from '@tunnelkey/messaging';
import {
  createBrokerServerIdentity,
  natsFixture,
  startMosquitto,
  waitFor,
  type BrokerServerIdentity,
  type RunningMosquitto,
} from '@tunnelkey/testing';
import { startOnboarding, type RunningOnboarding } from '../start-onboarding.js';
import { PlatformFacts } from '../test-support/platform-events.test-helper.js';
import {
  createTestAuthority,
  createTestRoot,
  issueTestCrl,
  issueTestDevice,
  type TestAuthority,
} from '../test-support/test-pki.test-helper.js';

const rights = [{ topic: 'fridges/{deviceId}/telemetry', access: 'publish' as const }];
const targetId = 'broker-t';

const openssl = (args: string[]): Promise<{ code: number; out: string }> =>
  new Promise((resolve) => {
    execFile('openssl', args, { encoding: 'utf8' }, (error, stdout, stderr) =>
      resolve({ code: error ? 1 : 0, out: `${stdout}${stderr}` }),
    );
  });
const body = (pem: string) => pem.replace(/-----[^-]+-----|\s/g, '');

describe('install-trust on a real broker (real NATS, a real Mosquitto)', () => {
  const nats = natsFixture({ prefix: 'trust' });
  let store: JetStreamEventStore;
  let platform: TestAuthority;
  let server: BrokerServerIdentity;
  let broker: RunningMosquitto;
  let agent: RunningBrokerAgent | undefined;
  let onboarding: RunningOnboarding;
  let commands: CommandClient;
  let facts: PlatformFacts;
  let dir: string;

  const onboardingEvents = async (type: string): Promise<EventEnvelope[]> => {
    const events: EventEnvelope[] = [];
    await store.replay('onboarding', (r) => void (r.event.type === type && events.push(r.event)));
    return events;
  };
  const publishCrl = (authority: TestAuthority, crl: { crlPem: string; crlNumber: number }) =>
    facts.publishCrl(authority, crl);
  /** Writes a PEM to the test's directory and returns its path (for the openssl CLI). */
  const file = async (name: string, pem: string) => {
    await writeFile(join(dir, name), pem);
    return join(dir, name);
  };
  const targetCertificateOf = async (deviceId: string) =>
    (
      (await onboardingEvents('DeviceOnboarded')).find((e) => (e.data as { deviceId: string }).deviceId === deviceId)
        ?.data as {
        certificate: { certificatePem: string };
      }
    ).certificate.certificatePem;
  let realDevice: Awaited<ReturnType<typeof issueTestDevice>>;
  /** A device of `authority` (whose chainPem may be forged), onboarded; resolves with its outcome event. */
  const onboardDevice = async (deviceId: string, authority: TestAuthority) => {
    const device = await issueTestDevice(authority, deviceId);
    if (deviceId === 'd-real') realDevice = device;
    await facts.importDevice(device, 'b-trust');
    await facts.certify(device, authority);
    await commands.request(OnboardDevice.subject(nats.namespace), { commandId: `onboard-${deviceId}`, deviceId });
    return waitFor(async () => {
      const outcome = [
        ...(await onboardingEvents('DeviceOnboarded')),
        ...(await onboardingEvents('DeviceOnboardingFailed')),
      ].find((e) => (e.data as { deviceId: string }).deviceId === deviceId);
      return outcome;
    });
  };

  beforeAll(async () => {
    await nats.setup();
    store = new JetStreamEventStore(nats.nc, { namespace: nats.namespace });
    await store.ensureStreams(['registry', 'ca', 'onboarding']);
    [platform, server] = await Promise.all([createTestAuthority('acme'), createBrokerServerIdentity()]);
    const crl = await issueTestCrl(platform);
    // The broker starts trusting the platform's chain: onboarding must replace it with the target's own CA.
    broker = await startMosquitto({
      tls: { caPem: platform.chainPem.join(''), certPem: server.certPem, keyPem: server.keyPem, crlPem: crl.crlPem },
    });
    dir = await mkdtemp(join(tmpdir(), 'tk-trust-'));
    await writeFile(join(dir, `${targetId}-admin`), `${broker.admin.password}\n`, { mode: 0o600 });
    await writeFile(join(dir, 'root.pem'), platform.root.pem);
    facts = new PlatformFacts(store);
    await facts.definePolicy('p-trust', [targetId], rights);
    await facts.createBatch('b-trust', 'p-trust', 10);
    await publishCrl(platform, crl);
    // The broker's agent, in this process but on the bus as a sidecar would be.
    agent = await serveBrokerAgent({
      nats: nats.nc,
      namespace: nats.namespace,
      broker: brokerOnThisHost(targetId, { ...broker, crlFile: broker.crlFile! }),
    });
    onboarding = await startOnboarding({
      nats: nats.nc,
      namespace: nats.namespace,
      platformKey: (await generatePlatformKey()).key,
      kek: await Kek.fromBytes(randomBytes(32)),
      config: {
        httpPort: 0,
        instanceId: 'test-trust',
        targetSecretsDir: dir,
        trustedRootSha256: platform.root.fingerprintSha256,
      },
      env: {},
      serverCaPem: () => server.caPem,
      logger: (await import('pino')).pino({ level: 'silent' }),
    });
    commands = new CommandClient(nats.nc);
    await commands.request(RegisterTarget.subject(nats.namespace), {
      commandId: `register-${targetId}`,
      targetId,
      kind: 'mosquitto',
      name: 'trust broker',
      host: '127.0.0.1',
      tlsPort: broker.tlsPort,
      admin: { username: broker.admin.username, passwordFile: `${targetId}-admin`, port: broker.adminPort },
    });
    // The platform's own device: the target's CA, its CRL and the policy's patterns are installed.
    const outcome = await onboardDevice('d-real', platform);
    expect(outcome.type).toBe('DeviceOnboarded');
  }, 120_000);

  afterAll(async () => {
    await onboarding?.stop();
    await agent?.stop();
    store?.close();
    await broker?.stop();
    await nats.teardown();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  test("the broker trusts the target's own CA only: the device's target certificate verifies, its platform one does not (openssl)", async () => {
    const caFile = await readFile(broker.caFile, 'utf8');
    const [anchor] = (await onboardingEvents('TargetTrustAnchorInstalled')).map(
      (e) => e.data as { authorityId: string; certificatePem: string },
    );
    expect(anchor!.authorityId).toBe(`tca-${targetId}`);
    expect(body(caFile)).toBe(body(anchor!.certificatePem));
    expect(body(caFile)).not.toContain(body(platform.issuing.pem));
    const target = await file('target.pem', await targetCertificateOf('d-real'));
    const platformCert = await file('platform.pem', realDevice.certificatePem);
    const verify = (leaf: string) => openssl(['verify', '-purpose', 'sslclient', '-CAfile', broker.caFile, leaf]);
    expect(await verify(target)).toMatchObject({ code: 0, out: expect.stringContaining('OK') });
    expect(await verify(platformCert)).toMatchObject({ code: 1 });
    // The platform certificate itself is the pinned root's (what onboarding checked before issuing).
    const issuing = await file('issuing.pem', platform.issuing.pem);
    const underRoot = await openssl(['verify', '-CAfile', join(dir, 'root.pem'), '-untrusted', issuing, platformCert]);
    expect(underRoot).toMatchObject({ code: 0, out: expect.stringContaining('OK') });
    const crl = await openssl(['crl', '-in', broker.crlFile!, '-CAfile', broker.caFile, '-noout']);
    expect(crl).toMatchObject({ code: 0, out: expect.stringContaining('verify OK') });
    expect(await readFile(broker.aclFile, 'utf8')).toContain('pattern write fridges/%u/telemetry');
  });

  test('a forged issuing CA (self-signed, or under another root) gets no device a target certificate', async () => {
    const before = await readFile(broker.caFile, 'utf8');
    const forged = await createTestRoot('acme issuing CA');
    const selfSigned: TestAuthority = {
      ...(await createTestAuthority('acme')),
      authorityId: 'issuing-forged',
      issuer: forged.rootIssuer,
      chainPem: [forged.root.pem],
    };
    const otherRoot = { ...(await createTestAuthority('acme')), authorityId: 'issuing-other-root' };
    for (const [deviceId, authority] of [
      ['d-forged', selfSigned],
      ['d-other-root', otherRoot],
    ] as const) {
      await publishCrl(authority, await issueTestCrl(authority));
      const outcome = await onboardDevice(deviceId, authority);
      expect(outcome).toMatchObject({ type: 'DeviceOnboardingFailed', data: { reason: 'target-refused' } });
    }
    expect(await readFile(broker.caFile, 'utf8')).toBe(before);
    const anchors = (await onboardingEvents('TargetTrustAnchorInstalled')).map((e) => e.data);
    expect(anchors).toEqual([expect.objectContaining({ authorityId: `tca-${targetId}` })]);
  });

  test("a CRL the CA's events announce is never installed as it comes; a revocation in the log lists the device (openssl)", async () => {
    // Same names, another key: what an attacker without the issuing CA's key can sign.
    const forger = await createTestAuthority('acme');
    const forgedCrl = await issueTestCrl(forger, [], { crlNumber: platform.crlNumber + 1 });
    await publishCrl(platform, forgedCrl);
    await onboarding.refreshTrust({
      authorityId: platform.authorityId,
      crlNumber: forgedCrl.crlNumber,
      commandId: 'forged-crl',
    });
    expect(body(await readFile(broker.crlFile!, 'utf8'))).not.toBe(body(forgedCrl.crlPem));
    const target = await file('target-real.pem', await targetCertificateOf('d-real'));
    const checked = () =>
      openssl(['verify', '-crl_check', '-CAfile', broker.caFile, '-CRLfile', broker.crlFile!, target]);
    expect(await checked()).toMatchObject({ code: 0 });

    await facts.revoke(realDevice, platform, 'rv-real');
    const next = await issueTestCrl(platform, [{ serialHex: realDevice.serialHex }], {
      crlNumber: forgedCrl.crlNumber + 1,
    });
    await publishCrl(platform, next);
    await waitFor(async () => (await checked()).out.includes('certificate revoked'), {
      timeoutMs: 15_000,
      description: "the device's target certificate on the broker's CRL",
    });
    const crl = await openssl(['crl', '-in', broker.crlFile!, '-CAfile', broker.caFile, '-noout']);
    expect(crl).toMatchObject({ code: 0, out: expect.stringContaining('verify OK') });
  });
});
