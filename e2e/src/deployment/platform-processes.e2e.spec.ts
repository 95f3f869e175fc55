/**
 * The whole platform as a platform engineer runs it: every service a separate OS process from the
 * built output, started by the image's entry (`tunnelkey <service>`) and configured only by its
 * environment; the CA's root made by the ceremony command; a real Mosquitto (the bootstrap trust of
 * deploy/mosquitto/bootstrap.sh) with onboarding beside it through MOSQUITTO_BINDINGS; the fleet as
 * a process of its own. An operator drives a batch through the gateway's HTTP API from import to
 * telemetry to a revocation; then every process gets SIGTERM and must exit 0 within its grace period.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMosquitto, type RunningMosquitto } from '@tunnelkey/testing';
import { repoRoot } from './deployment-files.js';
import { eventually, freePort, startProcess, type ServiceProcess } from './service-process.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are JSON; the assertions check their shapes */

const fleetSize = 4;
const graceMs = 15_000;
const services = ['registry', 'ca', 'onboarding', 'revocation', 'gateway'] as const;

describe('the platform as OS processes configured by their environment: import to telemetry to revocation, then SIGTERM', () => {
  const processes = new Map<string, ServiceProcess>();
  const ports = new Map<string, number>();
  let dir: string;
  let broker: RunningMosquitto;
  const namespace = `plat${randomBytes(4).toString('hex')}`;
  const adminToken = randomBytes(24).toString('hex');
  const batchId = `batch-${randomBytes(3).toString('hex')}`;
  const ownerId = 'owner-1';
  const targetId = 'broker-1';
  let gatewayUrl: string;

  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const response = await fetch(`${gatewayUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${adminToken}`,
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
        ...[...services, 'device-fleet'].map((s) => `@tunnelkey/${s}`),
        '--outputStyle=static',
      ],
      { cwd: repoRoot, env: { ...process.env, NX_DAEMON: 'false' }, stdio: 'ignore' },
    );
    dir = mkdtempSync(join(tmpdir(), 'tunnelkey-platform-'));
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(dir, 'platform-key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(dir, 'platform-public-key.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    for (const kek of ['ca-kek', 'root-kek', 'onboarding-kek'])
      writeFileSync(join(dir, kek), randomBytes(32).toString('hex'));
    const common = {
      PATH: `${process.env.PATH ?? ''}:/usr/sbin`,
      NATS_URL: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
      TUNNELKEY_NAMESPACE: namespace,
      HTTP_HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      SHUTDOWN_TIMEOUT_MS: '10000',
      PLATFORM_KEY_FILE: join(dir, 'platform-key.pem'),
    };

    // The ceremony, by an admin, before the CA serves: the root (its key sealed under a KEK of its
    // own) and the owner's issuing CA. It prints the root's fingerprint, which onboarding pins.
    const ceremony = (...args: string[]) =>
      execFileSync(process.execPath, [join(repoRoot, 'deploy/image/tunnelkey.mjs'), 'ca-ceremony', ...args], {
        env: {
          ...common,
          CA_ROOT_KEY_FILE: join(dir, 'root.key'),
          CA_ROOT_KEK_FILE: join(dir, 'root-kek'),
          CA_KEK_FILE: join(dir, 'ca-kek'),
        },
        encoding: 'utf8',
      });
    const root = JSON.parse(ceremony('create-root').split('\n')[0]!) as { fingerprintSha256: string };
    ceremony('sign-issuing-ca', '--owner', ownerId);

    // The broker on its bootstrap trust; onboarding gets its files, pid and log, and the admin password file.
    execFileSync('sh', [join(repoRoot, 'deploy/mosquitto/bootstrap.sh'), join(dir, 'broker')], { stdio: 'ignore' });
    broker = await startMosquitto({
      tls: {
        caFile: join(dir, 'broker/bootstrap-ca.pem'),
        crlFile: join(dir, 'broker/bootstrap-crl.pem'),
        certFile: join(dir, 'broker/server.pem'),
        keyFile: join(dir, 'broker/server.key'),
      },
    });
    mkdirSync(join(dir, 'targets'));
    writeFileSync(join(dir, 'targets/broker-admin'), broker.admin.password);

    const own: Record<(typeof services)[number], Record<string, string>> = {
      registry: {},
      ca: { CA_KEK_FILE: join(dir, 'ca-kek') },
      onboarding: {
        ONBOARDING_KEK_FILE: join(dir, 'onboarding-kek'),
        TRUSTED_ROOT_SHA256: root.fingerprintSha256,
        ONBOARDING_TARGET_SECRETS_DIR: join(dir, 'targets'),
        ONBOARDING_TELEMETRY_INTERVAL_MS: '1000',
        MOSQUITTO_BINDINGS: JSON.stringify({
          '*': {
            caFile: broker.caFile,
            crlFile: broker.crlFile,
            aclFile: broker.aclFile,
            pidFile: broker.pidFile,
            logFile: broker.logFile,
            // Devices verify the broker with it (serverCaPem in their connection parameters).
            serverCaFile: join(dir, 'broker/server-ca.pem'),
          },
        }),
      },
      revocation: {},
      gateway: { GATEWAY_ADMIN_TOKEN: adminToken },
    };
    for (const service of services) {
      const port = await freePort();
      ports.set(service, port);
      const extra: Record<string, string> = service === 'ca' ? { CRL_BASE_URL: `http://127.0.0.1:${port}/crl` } : {};
      processes.set(
        service,
        startProcess([service], { ...common, ...own[service], ...extra, HTTP_PORT: String(port) }),
      );
    }
    gatewayUrl = `http://127.0.0.1:${ports.get('gateway')}`;
    processes.set(
      'fleet',
      startProcess(
        [
          'fleet',
          '--devices',
          String(fleetSize),
          '--namespace',
          namespace,
          '--seed-base',
          namespace,
          '--identity-file',
          join(dir, 'identities.csv'),
          '--platform-key-file',
          join(dir, 'platform-public-key.pem'),
          '--telemetry-interval',
          '1000',
          '--hardware-threads',
          '0',
        ],
        common,
      ),
    );
  }, 240_000);

  afterAll(async () => {
    for (const p of processes.values()) await p.kill();
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('every service becomes ready from its environment alone', async () => {
    for (const service of services) {
      const ready = await eventually(
        async () => (await fetch(`http://127.0.0.1:${ports.get(service)}/ready`)).status === 200,
        90_000,
      );
      expect({ service, ready, log: ready ? [] : processes.get(service)!.lines.slice(-5) }).toEqual({
        service,
        ready: true,
        log: [],
      });
    }
    expect(await eventually(() => existsSync(join(dir, 'identities.csv')), 60_000)).toBe(true);
  }, 200_000);

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
      readFileSync(join(dir, 'identities.csv'), 'utf8'),
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
      tlsPort: broker.tlsPort,
      admin: { username: broker.admin.username, passwordFile: 'broker-admin', port: broker.adminPort },
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
    for (const [name, p] of processes) {
      const outcome = await p.terminate(graceMs);
      expect({ name, outcome }).toEqual({ name, outcome: { code: 0, signal: null } });
    }
  }, 120_000);
});
