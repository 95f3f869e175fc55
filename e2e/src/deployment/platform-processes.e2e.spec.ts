/**
 * The whole platform as a platform engineer runs it: every service a separate OS process from the
 * built output, started by the image's entry (`tunnelkey <service>`) and configured only by its
 * environment; the CA's root made by the ceremony command; a real Mosquitto (the bootstrap trust of
 * deploy/mosquitto/bootstrap.sh) with onboarding beside it through MOSQUITTO_BINDINGS; the fleet as
 * a process of its own. An operator drives a batch through the gateway's HTTP API from import to
 * telemetry to a revocation; then every process gets SIGTERM and must exit 0 within its grace period.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './deployment-files.js';
import { platformServices, startPlatformProcesses, type PlatformProcesses } from './platform-processes.js';
import { eventually } from './service-process.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are JSON; the assertions check their shapes */

const fleetSize = 4;
const graceMs = 15_000;

describe('the platform as OS processes configured by their environment: import to telemetry to revocation, then SIGTERM', () => {
  let platform: PlatformProcesses;
  const namespace = `plat${randomBytes(4).toString('hex')}`;
  const batchId = `batch-${randomBytes(3).toString('hex')}`;
  const ownerId = 'owner-1';
  const targetId = 'broker-1';
  let gatewayUrl: string;

  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const response = await fetch(`${gatewayUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${platform.adminToken}`,
        ...(body !== undefined ? { 'content-type': typeof body === 'string' ? 'text/csv' : 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
  const counts = async () => (await call('GET', `/api/batches/${batchId}`)).body?.counts ?? {};
  const devices = async () => (await call('GET', `/api/devices?batchId=${batchId}&limit=100`)).body?.items ?? [];

  beforeAll(async () => {
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
    platform = await startPlatformProcesses({
      namespace,
      ownerId,
      ports: 'free',
      logLevel: 'info',
      fleet: { devices: fleetSize, telemetryIntervalMs: 1000 },
    });
    gatewayUrl = `http://127.0.0.1:${platform.ports.get('gateway')}`;
  }, 240_000);

  afterAll(async () => {
    await platform?.destroy();
  });

  it('every service becomes ready from its environment alone', async () => {
    for (const service of platformServices) {
      const ready = await eventually(
        async () => (await fetch(`http://127.0.0.1:${platform.ports.get(service)}/ready`)).status === 200,
        90_000,
      );
      expect({ service, ready, log: ready ? [] : platform.processes.get(service)!.lines.slice(-5) }).toEqual({
        service,
        ready: true,
        log: [],
      });
    }
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
    expect(text).toMatch(/eventstore_consumer_lag_events\{kind="durable",name="registry-certificate-issued"/);
  });

  it('takes a batch from import through verification, certification and onboarding to telemetry, and revokes a device', async () => {
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
    expect(
      (await call('POST', '/api/batches', { batchId, name: 'fridges', policyId, ownerId, expectedSize: fleetSize }))
        .status,
    ).toBe(200);
    const imported = await call(
      'POST',
      `/api/batches/${batchId}/identities?importId=file-1`,
      readFileSync(join(platform.dir, 'identities.csv'), 'utf8'),
    );
    expect(imported.body?.result).toMatchObject({ accepted: fleetSize, rejected: 0 });

    expect((await call('POST', '/api/verifications', { scope: { kind: 'batch', batchId } })).status).toBe(202);
    expect(await eventually(async () => (await counts()).Verified === fleetSize, 60_000)).toBe(true);
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
