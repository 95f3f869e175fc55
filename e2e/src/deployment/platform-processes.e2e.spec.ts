/**
 * The whole platform as a platform engineer runs it: every service a separate OS process from the
 * built output, started by the image's entry (`tunnelkey <service>`) and configured only by its
 * environment; the CA's root made by the ceremony command; a real Mosquitto (the bootstrap trust of
 * deploy/mosquitto/bootstrap.sh) with its broker agent beside it as a process (onboarding reaches
 * both over the network only); the fleet as a process of its own. An operator drives a batch through
 * the gateway's HTTP API from import to telemetry to a revocation; then every process gets SIGTERM
 * and must exit 0 within its grace period.
 * The second run puts the platform on a 3-node JetStream cluster on loopback (JETSTREAM_REPLICAS=3)
 * and SIGKILLs one node while a batch is being certified: every device still ends certified, none
 * twice, and the log itself (read back by the fault suite's independent reader) lost nothing.
 * One file: both runs use the one build (two files building the same dist at once broke each other).
 */
import { execFileSync } from 'node:child_process';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats } from '@tunnelkey/config';
import { startNatsCluster, testServer, waitFor, type NatsCluster, type TestServer } from '@tunnelkey/testing';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './deployment-files.js';
import { platformServices, startPlatformProcesses, type PlatformProcesses } from './platform-processes.js';
import { eventually } from './service-process.js';
import { checkInvariants, readLog, summariseInvariants } from '../faults/invariants.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are JSON; the assertions check their shapes */

const fleetSize = 4;
const graceMs = 15_000;

/** The operator's HTTP calls to the platform's gateway, for one batch. */
function gatewayOf(platform: () => PlatformProcesses, batchId: string) {
  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const response = await fetch(`http://127.0.0.1:${platform().ports.get('gateway')}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${platform().adminToken}`,
        ...(body !== undefined ? { 'content-type': typeof body === 'string' ? 'text/csv' : 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
  const counts = async () => (await call('GET', `/api/batches/${batchId}`)).body?.counts ?? {};
  return {
    call,
    counts,
    devices: async () => (await call('GET', `/api/devices?batchId=${batchId}&limit=100`)).body?.items ?? [],
    /** A policy to the broker and a batch of `size` under it. */
    async defineBatch(size: number, targetId: string, ownerId: string) {
      const policyId = `policy-${batchId}`;
      expect(
        await call('POST', '/api/policies', {
          policyId,
          name: 'Fridges',
          targetIds: [targetId],
          topicRights: [{ topic: 'fridges/{deviceId}/telemetry', access: 'publish' }],
          certificateLifetimeDays: 365,
        }),
      ).toMatchObject({ status: 200 });
      const created = await call('POST', '/api/batches', {
        batchId,
        name: 'fridges',
        policyId,
        ownerId,
        expectedSize: size,
      });
      expect(created.status).toBe(200);
    },
    /** Imports the fleet's identity file and verifies the batch: all `size` devices Verified. */
    async importAndVerify(size: number) {
      const identities = readFileSync(join(platform().dir, 'identities.csv'), 'utf8');
      const imported = await call('POST', `/api/batches/${batchId}/identities?importId=file-1`, identities);
      expect(imported.body?.result).toMatchObject({ accepted: size, rejected: 0 });
      expect((await call('POST', '/api/verifications', { scope: { kind: 'batch', batchId } })).status).toBe(202);
      expect(await eventually(async () => (await counts()).Verified === size, 120_000)).toBe(true);
    },
  };
}

/** Builds what both runs start (once for the file: a second build in parallel broke running processes). */
function buildOnce(): void {
  execFileSync(
    'npx',
    [
      'nx',
      'run-many',
      '-t',
      'build',
      '-p',
      ...[...platformServices, 'device-fleet'].map((s) => `@tunnelkey/${s}`),
      '--outputStyle=static',
    ],
    { cwd: repoRoot, env: { ...process.env, NX_DAEMON: 'false' }, stdio: 'ignore' },
  );
}

/**
 * Every service answers /ready. One that exited while starting (a JetStream request of its set-up
 * timed out on a freshly formed cluster) is started again, as its pod's restart policy would, and
 * the run says so.
 */
const expectEveryServiceReady = async (platform: PlatformProcesses) => {
  for (const service of platformServices) {
    const isReady = async () => (await fetch(`http://127.0.0.1:${platform.ports.get(service)}/ready`)).status === 200;
    let ready = await eventually(isReady, 90_000);
    const started = platform.processes.get(service)!;
    if (!ready && started.child.exitCode !== null) {
      console.log(
        `${service} exited while starting (code ${started.child.exitCode}), started again; ` +
          `its last lines:\n${started.lines.slice(-5).join('\n')}`,
      );
      platform.restart(service);
      ready = await eventually(isReady, 90_000);
    }
    if (!ready) {
      const answer = await fetch(`http://127.0.0.1:${platform.ports.get(service)}/ready`).then(
        async (r) => `${r.status} ${await r.text()}`,
        (error: unknown) => String(error),
      );
      console.log(`${service} not ready: ${answer}\n${platform.processes.get(service)?.lines.slice(-15).join('\n')}`);
    }
    expect({ service, ready }).toEqual({ service, ready: true });
  }
};

describe('the platform as OS processes configured by their environment: import to telemetry to revocation, then SIGTERM', () => {
  let platform: PlatformProcesses;
  const namespace = `plat${randomBytes(4).toString('hex')}`;
  const batchId = `batch-${randomBytes(3).toString('hex')}`;
  const ownerId = 'owner-1';
  const targetId = 'broker-1';
  const { call, counts, devices, defineBatch, importAndVerify } = gatewayOf(() => platform, batchId);
  // NATS from testcontainers where a Docker engine answers, else NATS_URL / loopback (printed).
  let nats: TestServer;

  beforeAll(async () => {
    buildOnce();
    nats = await testServer('nats');
    platform = await startPlatformProcesses({
      natsUrl: nats.url!,
      namespace,
      ownerId,
      ports: 'free',
      logLevel: 'info',
      fleet: { devices: fleetSize, telemetryIntervalMs: 1000 },
    });
  }, 240_000);

  afterAll(async () => {
    await platform?.destroy();
    await nats?.stop();
  });

  it('every service becomes ready from its environment alone', async () => {
    await expectEveryServiceReady(platform);
    expect(await eventually(() => existsSync(join(platform.dir, 'identities.csv')), 60_000)).toBe(true);
  }, 200_000);

  it('each one reports its version on /health and serves /metrics as Prometheus text with its consumer lag', async () => {
    const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
    for (const service of platformServices) {
      const health = await (await fetch(`http://127.0.0.1:${platform.ports.get(service)}/health`)).json();
      expect(health).toEqual({ status: 'ok', service, version });
    }
    const response = await fetch(`http://127.0.0.1:${platform.ports.get('registry')}/metrics`);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();
    expect(text).toMatch(
      /eventstore_consumer_lag_events\{kind="view",name="[^"]+",context="registry",service="registry"\} \d+/,
    );
    expect(text).toMatch(/eventstore_consumer_lag_events\{kind="durable",name="registry-revocation-steps"/);
  });

  it('takes a batch from import through verification, certification and onboarding to telemetry, and revokes a device', async () => {
    await defineBatch(fleetSize, targetId, ownerId);
    await importAndVerify(fleetSize);
    expect(
      (await call('POST', '/api/certifications', { scope: { kind: 'batch', batchId }, keyId: 'tls-0' })).status,
    ).toBe(202);
    expect(await eventually(async () => (await counts()).Certified === fleetSize, 60_000)).toBe(true);

    const registered = await call('POST', '/api/targets', {
      targetId,
      kind: 'mosquitto',
      name: 'Local Mosquitto',
      host: '127.0.0.1',
      tlsPort: platform.broker.tlsPort,
      admin: {
        username: platform.broker.admin.username,
        passwordFile: platform.adminPasswordFile,
        port: platform.broker.adminPort,
      },
    });
    expect(registered.status).toBe(200);
    expect([200, 202]).toContain((await call('POST', `/api/batches/${batchId}/onboarding`, {})).status);
    // Telemetry: every device connected to the broker with its target certificate and published.
    const telemetry = await eventually(async () => {
      const items = await devices();
      return items.length === fleetSize && items.every((d: any) => d.messagesTotal > 0);
    }, 120_000);
    expect(telemetry).toBe(true);

    const [first] = await devices();
    expect((await call('POST', `/api/devices/${first.deviceId}/revocation`, { reason: 'keyCompromise' })).status).toBe(
      202,
    );
    expect(
      await eventually(
        async () => (await call('GET', `/api/devices/${first.deviceId}`)).body?.state === 'Revoked',
        60_000,
      ),
    ).toBe(true);
    const states = (await devices()).map((d: any) => d.state);
    expect(states.filter((s: string) => s === 'Revoked')).toHaveLength(1);
  }, 300_000);

  it('stops every process with SIGTERM: each exits 0 within its grace period', async () => {
    for (const [name, p] of platform.processes) {
      const outcome = await p.terminate(graceMs);
      expect({ name, outcome }).toEqual({ name, outcome: { code: 0, signal: null } });
      if (name === 'fleet') continue; // a command-line tool: its progress lines are text
      // A service writes JSON lines only (Nest's own included), and says it is stopping.
      const notJson = p.lines.filter((line) => {
        try {
          JSON.parse(line);
          return false;
        } catch {
          return true;
        }
      });
      expect({ name, notJson }).toEqual({ name, notJson: [] });
      expect({ name, stopping: p.lines.some((l) => l.includes('"event":"service.stopping"')) }).toEqual({
        name,
        stopping: true,
      });
    }
  }, 120_000);
});

/*
 * In `npm test` (TUNNELKEY_CLUSTER_E2E=0 skips it). The 503s after the leader's kill are retried
 * (appends, live tails). A service whose start fails on the freshly formed cluster (a JetStream
 * request of its Nest set-up timing out, nats.js `TimeoutError`: one run in five at a load of 5-12
 * on two cores, with set-up requests at 15 s) is started again as its pod would be, and the run
 * says so. 2026-12-07: 4 of 4 runs passed at a load of ~1.
 */
const clusterRun = process.env['TUNNELKEY_CLUSTER_E2E'] === '0' ? describe.skip : describe;

clusterRun('the same platform on a 3-node JetStream cluster (streams at R3): a node SIGKILLed mid-batch', () => {
  const devicesInBatch = 8;
  const namespace = `clus${randomBytes(4).toString('hex')}`;
  const batchId = `batch-${randomBytes(3).toString('hex')}`;
  let cluster: NatsCluster;
  let platform: PlatformProcesses;
  const { call, counts, defineBatch, importAndVerify } = gatewayOf(() => platform, batchId);

  beforeAll(async () => {
    buildOnce(); // a no-op after the first run's build (nx's cache), needed when this run is picked alone
    cluster = await startNatsCluster();
    platform = await startPlatformProcesses({
      namespace,
      ownerId: 'owner-1',
      ports: 'free',
      // Every process is given node 1 and learns the others from it (as a client of a cluster does).
      natsUrl: cluster.nodes[0]!.url,
      env: { JETSTREAM_REPLICAS: '3' },
      fleet: { devices: devicesInBatch, telemetryIntervalMs: 5_000 },
    });
    await expectEveryServiceReady(platform);
    expect(await eventually(() => existsSync(join(platform.dir, 'identities.csv')), 60_000)).toBe(true);
  }, 300_000);

  afterAll(async () => {
    await platform?.destroy();
    await cluster?.stop();
  });

  it('certifies every device once though a node is SIGKILLed mid-batch, and the log itself lost nothing', async () => {
    const nc = await connectNats({ servers: cluster.nodes.map((n) => n.url) });
    try {
      const jsm = await jetstreamManager(nc);
      const caStream = `${namespace.toUpperCase()}_CA`;
      await defineBatch(devicesInBatch, 'broker-1', 'owner-1');
      await importAndVerify(devicesInBatch);
      // The streams the services created are R3.
      expect((await jsm.streams.info(caStream)).config.num_replicas).toBe(3);

      // The node leading the CA stream goes while the batch is being certified: the CA's issuances
      // move to a new leader. Node 1, the server every process was given, is not the one killed
      // (client failover to a discovered node is not what this run checks): the leadership is
      // first moved off it when it leads.
      const leaderOf = async () => (await jsm.streams.info(caStream)).cluster?.leader;
      for (let i = 0; i < 10 && (await leaderOf()) === cluster.nodes[0]!.name; i++) {
        await nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${caStream}`, '', { timeout: 10_000 }).catch(() => undefined);
        await eventually(async () => Boolean(await leaderOf().catch(() => undefined)), 10_000);
      }
      const leader = await leaderOf();
      const victim = cluster.nodes.findIndex((n) => n.name === leader);
      expect(victim).toBeGreaterThan(0);
      expect(
        (await call('POST', '/api/certifications', { scope: { kind: 'batch', batchId }, keyId: 'tls-0' })).status,
      ).toBe(202);
      const certifiedBefore = (await counts()).Certified ?? 0;
      await cluster.kill(victim);
      console.log(
        `cluster run: ${cluster.nodes[victim]!.name} (CA stream leader ${leader}) SIGKILLed with ` +
          `${certifiedBefore} of ${devicesInBatch} devices certified`,
      );

      const allCertified = await eventually(async () => (await counts()).Certified === devicesInBatch, 180_000);
      if (!allCertified)
        for (const name of ['ca', 'registry', 'fleet'])
          console.log(`${name}: ${platform.processes.get(name)!.lines.slice(-8).join('\n')}`);
      expect({ counts: await counts(), allCertified }).toMatchObject({ allCertified: true });
      // The log itself, read back by the fault suite's reader (none of the services' code).
      // JetStream's API answers again once the cluster has re-elected the leaders the node held.
      const afterKill = { timeoutMs: 90_000, intervalMs: 1_000 };
      const log = await waitFor(() => readLog(nc, namespace), { ...afterKill, description: 'the log read back' });
      const report = checkInvariants(log);
      expect(report.violations).toEqual({
        'certified twice': [],
        'certificate after revocation': [],
        'revoked, not deprovisioned': [],
        'connected after deprovisioned': [],
        'request without outcome': [],
      });
      expect(report.devicesInLog).toMatchObject({
        imported: devicesInBatch,
        verified: devicesInBatch,
        certified: devicesInBatch,
      });
      console.log(`cluster run: ${report.events} events in the log, invariants ${summariseInvariants(report)}`);
      // Still R3, a leader elected, the surviving replica current.
      const after = await waitFor(() => jsm.streams.info(caStream), { ...afterKill, description: 'the CA stream' });
      expect(after.config.num_replicas).toBe(3);
      expect(after.cluster?.leader).toBeDefined();
      expect(after.cluster?.replicas?.filter((r) => r.current)).toHaveLength(1);
    } finally {
      await nc.close();
    }
  }, 400_000);
});
