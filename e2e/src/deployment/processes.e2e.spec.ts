/**
 * The services as a platform engineer runs them: separate OS processes from the built output,
 * started by the image's entry (`tunnelkey <service>`), configured only by their environment. Each
 * one binds where HTTP_HOST/HTTP_PORT say, becomes ready, serves /metrics in the Prometheus text
 * format with its consumer lag, writes nothing but JSON lines (Nest's own included), and on SIGTERM
 * exits 0 within its grace period.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './deployment-files.js';

const services = ['registry', 'ca', 'onboarding', 'revocation', 'gateway'] as const;
type Service = (typeof services)[number];
const graceMs = 15_000;

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

interface Running {
  child: ChildProcess;
  port: number;
  stdout: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Polls `url` until it answers `status` or the deadline passes (a positive wait, bounded). */
async function answers(url: string, status: number, deadlineMs = 60_000): Promise<boolean> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    const got = await fetch(url).then(
      (r) => r.status,
      () => 0,
    );
    if (got === status) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

describe('the services as separate processes, configured by their environment', () => {
  const running = new Map<Service, Running>();
  let dir: string;

  beforeAll(async () => {
    // The built output is what the image runs.
    execFileSync(
      'npx',
      ['nx', 'run-many', '-t', 'build', '-p', ...services.map((s) => `@tunnelkey/${s}`), '--outputStyle=static'],
      {
        cwd: repoRoot,
        env: { ...process.env, NX_DAEMON: 'false' },
        stdio: 'ignore',
      },
    );
    dir = mkdtempSync(join(tmpdir(), 'tunnelkey-processes-'));
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(dir, 'platform-key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    for (const kek of ['ca-kek', 'onboarding-kek']) writeFileSync(join(dir, kek), randomBytes(32).toString('hex'));
    const common = {
      PATH: process.env.PATH ?? '',
      NATS_URL: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
      TUNNELKEY_NAMESPACE: `deploy${randomBytes(4).toString('hex')}`,
      HTTP_HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      SHUTDOWN_TIMEOUT_MS: '10000',
      TUNNELKEY_VERSION: '0.1.0-test',
      PLATFORM_KEY_FILE: join(dir, 'platform-key.pem'),
    };
    const own: Record<Service, Record<string, string>> = {
      registry: {},
      ca: { CA_KEK_FILE: join(dir, 'ca-kek') },
      onboarding: { ONBOARDING_KEK_FILE: join(dir, 'onboarding-kek') },
      revocation: {},
      gateway: { GATEWAY_ADMIN_TOKEN: randomBytes(24).toString('hex') },
    };
    for (const service of services) {
      const port = await freePort();
      const child = spawn(process.execPath, [join(repoRoot, 'deploy/image/tunnelkey.mjs'), service], {
        env: { ...common, ...own[service], HTTP_PORT: String(port) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const stdout: string[] = [];
      let partial = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        const lines = (partial + chunk.toString('utf8')).split('\n');
        partial = lines.pop()!;
        stdout.push(...lines.filter(Boolean));
      });
      child.stderr!.on('data', (chunk: Buffer) => stdout.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.once('exit', (code, signal) => resolve({ code, signal })),
      );
      running.set(service, { child, port, stdout, exited });
    }
  }, 240_000);

  afterAll(async () => {
    for (const { child, exited } of running.values()) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('each one listens on its HTTP_PORT and reports its version on /health', async () => {
    for (const [service, { port }] of running) {
      expect({ service, up: await answers(`http://127.0.0.1:${port}/health`, 200) }).toEqual({ service, up: true });
      const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as Record<string, string>;
      expect(health).toEqual({ status: 'ok', service, version: '0.1.0-test' });
    }
  }, 120_000);

  it('is ready once caught up; onboarding is not, without the pinned root (its own dependency)', async () => {
    for (const [service, { port }] of running) {
      const ready = await answers(`http://127.0.0.1:${port}/ready`, service === 'onboarding' ? 503 : 200);
      expect({ service, ready }).toEqual({ service, ready: true });
    }
  }, 120_000);

  it('serves /metrics as Prometheus text, with the lag of its views and durables', async () => {
    const { port } = running.get('registry')!;
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();
    expect(text).toMatch(
      /eventstore_consumer_lag_events\{kind="view",name="[^"]+",context="registry",service="registry"\} \d+/,
    );
    expect(text).toMatch(/eventstore_consumer_lag_events\{kind="durable",name="registry-certificate-issued"/);
  });

  it('exits 0 within its grace period on SIGTERM, having written only JSON lines', async () => {
    for (const [service, { child, exited, stdout }] of running) {
      child.kill('SIGTERM');
      const outcome = await Promise.race([
        exited,
        new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), graceMs).unref()),
      ]);
      expect({ service, outcome }).toEqual({ service, outcome: { code: 0, signal: null } });
      const notJson = stdout.filter((line) => {
        try {
          JSON.parse(line);
          return false;
        } catch {
          return true;
        }
      });
      expect({ service, notJson }).toEqual({ service, notJson: [] });
      expect({ service, stopping: stdout.some((line) => line.includes('"event":"service.stopping"')) }).toEqual({
        service,
        stopping: true,
      });
    }
  }, 120_000);
});
