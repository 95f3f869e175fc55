/**
 * Trust on a real broker (NATS JetStream on NATS_URL, a real Mosquitto 2.0 started for this file):
 * onboarding writes the broker's cafile and crlfile only with what verifies under the pinned root.
 * A forged issuing CA (self-signed, or under another root) never reaches the cafile; a CRL another
 * key signed never replaces the crlfile. What is installed is checked with the openssl CLI too.
 */
import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OnboardDevice, RegisterTarget, type EventEnvelope } from '@tunnelkey/contracts';
import { generatePlatformKey } from '@tunnelkey/device-protocol';
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
import { pidFileReloader } from '../mosquitto/broker-trust-files.js';
import { crlDigestOfPem } from '../shared/crl-source.js';
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
  let onboarding: RunningOnboarding;
  let commands: CommandClient;
  let facts: PlatformFacts;
  let dir: string;
  const crlPems = new Map<string, string>();

  const onboardingEvents = async (type: string): Promise<EventEnvelope[]> => {
    const events: EventEnvelope[] = [];
    await store.replay('onboarding', (r) => void (r.event.type === type && events.push(r.event)));
    return events;
  };
  const publishCrl = async (authority: TestAuthority, crl: { crlPem: string; crlNumber: number }) => {
    crlPems.set(crlDigestOfPem(crl.crlPem), crl.crlPem);
    await facts.publishCrl(authority, crl);
  };
  /** A device of `authority` (whose chainPem may be forged), onboarded; resolves with its outcome event. */
  const onboardDevice = async (deviceId: string, authority: TestAuthority) => {
    const device = await issueTestDevice(authority, deviceId);
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
    onboarding = await startOnboarding({
      nats: nats.nc,
      namespace: nats.namespace,
      platformKey: (await generatePlatformKey()).key,
      config: {
        httpPort: 0,
        instanceId: 'test-trust',
        targetSecretsDir: dir,
        trustedRootSha256: platform.root.fingerprintSha256,
      },
      env: {},
      crlSource: { fetch: async ({ crlDigest }) => ({ crlPem: crlPems.get(crlDigest)! }) },
      mosquittoBindings: (id) =>
        id === targetId
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
    await commands.request(RegisterTarget.subject(nats.namespace), {
      commandId: `register-${targetId}`,
      targetId,
      kind: 'mosquitto',
      name: 'trust broker',
      host: '127.0.0.1',
      tlsPort: broker.tlsPort,
      admin: { username: broker.admin.username, passwordFile: `${targetId}-admin`, port: broker.adminPort },
    });
    // The platform's own device: its issuing CA chain and CRL are installed.
    const outcome = await onboardDevice('d-real', platform);
    expect(outcome.type).toBe('DeviceOnboarded');
  }, 120_000);

  afterAll(async () => {
    await onboarding?.stop();
    store?.close();
    await broker?.stop();
    await nats.teardown();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  test('what was installed verifies under the pinned root (openssl)', async () => {
    const caFile = await readFile(broker.caFile, 'utf8');
    expect(body(caFile)).toBe(body(platform.chainPem.join('')));
    await writeFile(join(dir, 'issuing.pem'), platform.issuing.pem);
    const verified = await openssl(['verify', '-CAfile', join(dir, 'root.pem'), join(dir, 'issuing.pem')]);
    expect(verified).toMatchObject({ code: 0, out: expect.stringContaining('OK') });
    const crl = await openssl(['crl', '-in', broker.crlFile!, '-CAfile', broker.caFile, '-noout']);
    expect(crl).toMatchObject({ code: 0, out: expect.stringContaining('verify OK') });
  });

  test('a forged issuing CA (self-signed, or under another root) never reaches the cafile', async () => {
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
      // The forger announces a CRL of its own too, signed with its key (a broker with a crlfile needs one).
      await publishCrl(authority, await issueTestCrl(authority));
      const outcome = await onboardDevice(deviceId, authority);
      expect(outcome).toMatchObject({ type: 'DeviceOnboardingFailed', data: { reason: 'target-refused' } });
    }
    const after = await readFile(broker.caFile, 'utf8');
    expect(after).toBe(before);
    expect(body(after)).not.toContain(body(forged.root.pem));
    expect(body(after)).not.toContain(body(otherRoot.issuing.pem));
    const anchors = (await onboardingEvents('TargetTrustAnchorInstalled')).map((e) => e.data);
    expect(anchors).toEqual([expect.objectContaining({ authorityId: platform.authorityId })]);
  });

  test('a CRL another key signed never replaces the crlfile; the next real one does', async () => {
    const before = await readFile(broker.crlFile!, 'utf8');
    // Same names, another key: what an attacker without the issuing CA's key can sign.
    const forger = await createTestAuthority('acme');
    const forgedCrl = await issueTestCrl(forger, [], { crlNumber: platform.crlNumber + 1 });
    await publishCrl(platform, forgedCrl);
    await onboarding.refreshTrust({ authorityId: platform.authorityId, commandId: 'forged-crl' });
    expect(await readFile(broker.crlFile!, 'utf8')).toBe(before);

    const next = await issueTestCrl(platform, [], { crlNumber: forgedCrl.crlNumber + 1 });
    await publishCrl(platform, next);
    await onboarding.refreshTrust({ authorityId: platform.authorityId, commandId: 'real-crl' });
    expect(body(await readFile(broker.crlFile!, 'utf8'))).toBe(body(next.crlPem));
    const crl = await openssl(['crl', '-in', broker.crlFile!, '-CAfile', broker.caFile, '-noout']);
    expect(crl).toMatchObject({ code: 0, out: expect.stringContaining('verify OK') });
    const numbers = (await onboardingEvents('TargetCrlUpdated')).map(
      (e) => (e.data as { crlNumber: number }).crlNumber,
    );
    expect(numbers).not.toContain(forgedCrl.crlNumber);
    expect(numbers).toContain(next.crlNumber);
  });
});
