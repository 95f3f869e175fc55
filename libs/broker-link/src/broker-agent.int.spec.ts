/**
 * A broker agent against a real Mosquitto 2.0 and real NATS: installs arrive over the bus, the
 * files are written and the broker reloaded (its own log says so), refusals change nothing, and the
 * connections it logs come back over the bus. The client is the one onboarding uses.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { connectAsync } from 'mqtt';
import { buildCrl, buildRootCaCertificate, generateP256KeyPair, loadIssuer, WebCryptoSigner } from '@tunnelkey/pki';
import {
  createBrokerServerIdentity,
  natsFixture,
  startMosquitto,
  waitFor,
  type RunningMosquitto,
} from '@tunnelkey/testing';
import { BrokerAgentClient } from './broker-agent-client.js';
import { brokerOnThisHost, serveBrokerAgent, type RunningBrokerAgent } from './broker-agent.js';
import type { BrokerConnectionMessage, BrokerConnectionsReport, BrokerTrustFiles } from './broker-messages.js';
import { BrokerTrustRefusedError, BrokerUnreachableError } from './errors.js';

/** A CA and its empty CRL (the key is dropped: nothing here needs a device certificate). */
async function caWithCrl(name: string): Promise<{ caPem: string; crlPem: string }> {
  const signer = await WebCryptoSigner.fromKeyPair(await generateP256KeyPair());
  const now = Date.now();
  const ca = await buildRootCaCertificate({
    subject: { commonName: name, organization: 'tunnelkey tests' },
    signer,
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 24 * 3600_000),
    pathLength: 0,
  });
  const crl = await buildCrl({
    issuer: loadIssuer({ certificate: ca.der, signer }),
    thisUpdate: new Date(now - 3600_000),
    nextUpdate: new Date(now + 24 * 3600_000),
    crlNumber: 1n,
    revoked: [],
  });
  return { caPem: ca.pem, crlPem: crl.pem };
}

describe('broker agent (real NATS, real Mosquitto 2.0)', () => {
  const nats = natsFixture({ prefix: 'bagent' });
  let broker: RunningMosquitto;
  let agent: RunningBrokerAgent;
  let client: BrokerAgentClient;
  const facts: BrokerConnectionMessage[] = [];
  let follow: { stop(): void };

  beforeAll(async () => {
    await nats.setup();
    const server = await createBrokerServerIdentity();
    const bootstrap = await caWithCrl('bootstrap');
    broker = await startMosquitto({ tls: { ...bootstrap, certPem: server.certPem, keyPem: server.keyPem } });
    agent = await serveBrokerAgent({
      nats: nats.nc,
      namespace: nats.namespace,
      broker: brokerOnThisHost('broker-x', { ...broker, crlFile: broker.crlFile! }),
    });
    client = new BrokerAgentClient(nats.nc, 'broker-x', { namespace: nats.namespace });
    follow = client.followConnections((fact) => facts.push(fact));
  }, 60_000);

  afterAll(async () => {
    follow?.stop();
    await agent?.stop();
    await broker?.stop();
    await nats.teardown();
  });

  const reloads = async () => ((await broker.log()).match(/Reloading config/g) ?? []).length;

  test('an install over the bus writes the three files and returns once the broker reloaded them', async () => {
    const target = await caWithCrl('target CA');
    const before = await reloads();
    await client.installTrust({
      ...target,
      aclPatterns: [{ access: 'write', topic: 'fridges/%u/telemetry' }],
    });
    expect(await reloads()).toBeGreaterThan(before);
    expect(await readFile(broker.caFile, 'utf8')).toBe(target.caPem.trim() + '\n');
    expect(await readFile(broker.crlFile!, 'utf8')).toBe(target.crlPem.trim() + '\n');
    expect(await readFile(broker.aclFile, 'utf8')).toMatch(/^pattern write fridges\/%u\/telemetry$/m);
  });

  test('files the agent must not write are refused and change nothing, the broker not reloaded', async () => {
    const target = await caWithCrl('another CA');
    const files = { ca: await readFile(broker.caFile, 'utf8'), acl: await readFile(broker.aclFile, 'utf8') };
    const before = await reloads();
    const smuggled: BrokerTrustFiles = {
      caPem: `${target.caPem}\nrequire_certificate false\n`,
      crlPem: target.crlPem,
      aclPatterns: [],
    };
    await expect(client.installTrust(smuggled)).rejects.toThrow(BrokerTrustRefusedError);
    await expect(
      client.installTrust({ ...target, aclPatterns: [{ access: 'readwrite', topic: '#' }] } as BrokerTrustFiles),
    ).rejects.toThrow(/does not match its contract/);
    expect(await readFile(broker.caFile, 'utf8')).toBe(files.ca);
    expect(await readFile(broker.aclFile, 'utf8')).toBe(files.acl);
    expect(await reloads()).toBe(before);
  });

  test('a CRL the broker itself cannot load is reported refused, not installed', async () => {
    const target = await caWithCrl('target CA 2');
    await expect(
      client.installTrust({
        caPem: target.caPem,
        crlPem: '-----BEGIN X509 CRL-----\nAAAA\n\n-----END X509 CRL-----\n',
        aclPatterns: [],
      }),
    ).rejects.toThrow(/could not load the trust files/);
    // ... and the next good install is enforced again.
    await client.installTrust({ ...target, aclPatterns: [] });
  });

  test('the connections the broker logs come back over the bus, with the user that made them', async () => {
    const mqtt = await connectAsync({
      host: broker.host,
      port: broker.adminPort,
      username: broker.admin.username,
      password: broker.admin.password,
      clientId: 'watcher-1',
      reconnectPeriod: 0,
    });
    await waitFor(() => facts.find((f) => f.kind === 'connected' && f.clientId === 'watcher-1'), {
      description: 'the connection reported',
    });
    expect(facts.find((f) => f.kind !== 'present' && f.clientId === 'watcher-1')).toEqual({
      kind: 'connected',
      clientId: 'watcher-1',
      username: broker.admin.username,
    });
    await mqtt.endAsync();
    await waitFor(() => facts.find((f) => f.kind === 'disconnected' && f.clientId === 'watcher-1'), {
      description: 'the disconnection reported',
    });
  });

  test('who is connected is reported every few seconds: clients there before the agent started, a session taken over', async () => {
    const connect = (clientId: string) =>
      connectAsync({
        host: broker.host,
        port: broker.adminPort,
        username: broker.admin.username,
        password: broker.admin.password,
        clientId,
        reconnectPeriod: 0,
      });
    const early = await connect('early-1');
    await waitFor(() => facts.find((f) => f.kind === 'connected' && f.clientId === 'early-1'), {
      description: 'the connection logged',
    });
    // A second agent for the same broker, started now: it never saw early-1 connect as a fact.
    const late = await serveBrokerAgent({
      nats: nats.nc,
      namespace: nats.namespace,
      broker: brokerOnThisHost('broker-late', { ...broker, crlFile: broker.crlFile! }),
      reportEveryMs: 100,
    });
    const reports: BrokerConnectionsReport[] = [];
    const follow = new BrokerAgentClient(nats.nc, 'broker-late', { namespace: nats.namespace }).followConnections(
      (message) => {
        if (message.kind === 'present') reports.push(message);
      },
    );
    const nextReport = async () => {
      const seen = reports.length;
      await waitFor(() => reports.length > seen, { description: 'a report' });
      return reports.at(-1)!;
    };
    try {
      expect(await nextReport()).toMatchObject({ kind: 'present', part: 0, parts: 1 });
      expect(reports.at(-1)!.clientIds).toContain('early-1');
      // The same client id again: the broker closes the old session; the client is still connected.
      const again = await connect('early-1');
      await nextReport();
      expect((await nextReport()).clientIds).toContain('early-1');
      await again.endAsync();
      await early.endAsync(true);
      await waitFor(async () => !(await nextReport()).clientIds.includes('early-1'), {
        description: 'early-1 no longer reported',
      });
    } finally {
      follow.stop();
      await late.stop();
    }
  });

  test('no agent for a broker, or a broker that is not running: unreachable, to be retried', async () => {
    const nobody = new BrokerAgentClient(nats.nc, 'broker-nobody', { namespace: nats.namespace, timeoutMs: 2_000 });
    const target = await caWithCrl('unheard');
    await expect(nobody.installTrust({ ...target, aclPatterns: [] })).rejects.toThrow(BrokerUnreachableError);

    const pid = await readFile(broker.pidFile, 'utf8');
    await writeFile(broker.pidFile, '999999\n');
    try {
      await expect(client.installTrust({ ...target, aclPatterns: [] })).rejects.toThrow(
        /broker process cannot be signalled/,
      );
    } finally {
      await writeFile(broker.pidFile, pid);
    }
  });
});
