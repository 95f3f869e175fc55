// Before any test file runs: the system programs the tests use must be installed (one clear
// message with the install command, instead of stack traces from every file that needs one), and
// the integration tests get a NATS with JetStream at NATS_URL — the one that answers there, or one
// this run starts (and jest.global-teardown.js stops).
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/bin'];
const found = (program) =>
  dirs.some((dir) => {
    try {
      accessSync(join(dir, program), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });

// program -> the Debian/Ubuntu package that provides it, and which tests need it.
const programs = [
  { program: 'openssl', pkg: 'openssl', integrationOnly: false }, // the independent certificate checks
  { program: 'nats-server', pkg: 'nats-server', integrationOnly: true },
  { program: 'mosquitto', pkg: 'mosquitto', integrationOnly: true },
  { program: 'softhsm2-util', pkg: 'softhsm2', integrationOnly: true }, // the PKCS#11 signer
  { program: 'chromium', pkg: 'chromium', integrationOnly: true }, // the console's e2e
];

const answers = (host, port) =>
  new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(500);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });

export default async function globalSetup(globalConfig) {
  // Services default to fixed ports (3101...: a pod's probes name them); a test run binds free ones,
  // so files running in parallel never collide. The workers inherit it.
  process.env.HTTP_PORT ??= '0';
  const patterns = globalConfig.testPathPatterns?.patterns ?? globalConfig.testPathPattern ?? '';
  const text = Array.isArray(patterns) ? patterns.join(' ') : String(patterns);
  // A run of unit tests only (npm run test:unit) needs neither NATS nor the servers.
  const integration = !/unit/.test(text) || /int|e2e/.test(text);
  const missing = programs.filter((p) => (integration || !p.integrationOnly) && !found(p.program));
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((p) => p.pkg))].join(' ');
    throw new Error(
      `missing system programs: ${missing.map((p) => p.program).join(', ')}. Install them with:\n\n` +
        `  sudo apt-get install -y ${packages}\n\n(the README's "Set up on a fresh machine" lists every system package)`,
    );
  }
  if (!integration) return;
  const url = new URL(process.env.NATS_URL ?? 'nats://127.0.0.1:4222');
  const host = url.hostname;
  const port = Number(url.port || 4222);
  if (await answers(host, port)) return;
  const store = mkdtempSync(join(tmpdir(), 'tunnelkey-test-nats-'));
  const server = spawn('nats-server', ['-a', host, '-p', String(port), '-js', '-sd', store], {
    stdio: 'ignore',
    env: { ...process.env, PATH: dirs.join(delimiter) },
  });
  globalThis.__tunnelkeyTestNats = { server, store };
  for (let i = 0; i < 100 && !(await answers(host, port)); i++) await sleep(100);
  if (!(await answers(host, port))) {
    server.kill('SIGKILL');
    rmSync(store, { recursive: true, force: true });
    throw new Error(`nothing answered at ${url.href} and the nats-server started there did not come up`);
  }
  process.stderr.write(`\nno NATS answered at ${url.href}: started nats-server -js there for this run\n`);
}
