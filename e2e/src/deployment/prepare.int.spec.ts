/**
 * deploy/compose/prepare.sh (and the broker bootstrap it runs) make what docker-compose.yml mounts,
 * and each piece is accepted by what reads it: the platform key and the KEKs by the services'
 * loaders, nats.conf with the passwords and certificates by nats-server, the bootstrap trust and
 * server identity by Mosquitto (which then admits no client), the admin password by mosquitto_ctrl.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { loadPlatformKey } from '@tunnelkey/device-protocol';
import { loadKek } from '@tunnelkey/pki';
import { startMosquitto, type RunningMosquitto } from '@tunnelkey/testing';
import { readComposeFile } from './compose-file.js';
import { repoRoot } from './deployment-files.js';

const sbin = { ...process.env, PATH: `${process.env.PATH}:/usr/sbin` };

describe('deploy/compose/prepare.sh', () => {
  let root: string;
  let out: string;
  let env: Record<string, string>;
  let broker: RunningMosquitto | undefined;

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'tunnelkey-prepare-'));
    cpSync(join(repoRoot, 'deploy'), join(root, 'deploy'), { recursive: true });
    cpSync(join(repoRoot, 'package.json'), join(root, 'package.json'));
    execFileSync('sh', [join(root, 'deploy/compose/prepare.sh')], { stdio: 'pipe', env: sbin });
    out = join(root, '.tunnelkey/compose');
    env = Object.fromEntries(
      readFileSync(join(out, 'compose.env'), 'utf8')
        .split('\n')
        .filter((line) => /^[A-Z_0-9]+=/.test(line))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
  });

  afterAll(async () => {
    await broker?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('writes every file docker-compose.yml mounts and every variable it needs', () => {
    const { compose, missing } = readComposeFile(env);
    expect(missing).toEqual([]);
    const sources = Object.values(compose.services).flatMap((s) =>
      (s.volumes ?? []).map((v) => v.split(':')[0]!).filter((source) => source.startsWith('./.tunnelkey/compose/')),
    );
    expect(sources.length).toBeGreaterThan(5);
    for (const source of sources) {
      expect({ source, exists: existsSync(join(root, source)) }).toEqual({ source, exists: true });
    }
  });

  it("writes a platform key and KEKs the services' own loaders accept", async () => {
    const key = await loadPlatformKey({ PLATFORM_KEY_FILE: join(out, 'platform-key.pem') });
    expect(key?.keyId).toBe('platform-1');
    for (const file of ['ca-kek', 'onboarding-kek', 'ota-kek']) {
      await expect(
        loadKek({ env: { CA_KEK_FILE: join(out, file) }, readFile: (path) => readFile(path) }),
      ).resolves.toBeDefined();
    }
  });

  it('gives nats-server what deploy/nats/nats.conf needs: every password, the TLS files', () => {
    const conf = readFileSync(join(repoRoot, 'deploy/nats/nats.conf'), 'utf8')
      .replaceAll('/etc/nats/tls/', `${join(out, 'nats-tls')}/`)
      .replace('store_dir: /data', `store_dir: ${join(root, 'js')}`);
    writeFileSync(join(root, 'nats.conf'), conf);
    const passwords = Object.fromEntries(Object.entries(env).filter(([k]) => k.endsWith('_PASSWORD')));
    expect(() =>
      execFileSync('nats-server', ['-c', join(root, 'nats.conf'), '-t'], {
        env: { ...sbin, ...passwords },
        stdio: 'pipe',
      }),
    ).not.toThrow();
  });

  it("starts Mosquitto on the broker's bootstrap trust, which admits no device yet", async () => {
    const dir = join(out, 'broker');
    broker = await startMosquitto({
      tls: {
        caFile: join(dir, 'bootstrap-ca.pem'),
        crlFile: join(dir, 'bootstrap-crl.pem'),
        certFile: join(dir, 'server.pem'),
        keyFile: join(dir, 'server.key'),
      },
    });
    // A client with no certificate of the target CA: the handshake is refused (an event, no sleep).
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect({
        host: '127.0.0.1',
        port: broker!.tlsPort,
        ca: readFileSync(join(dir, 'server-ca.pem')),
        servername: 'localhost',
      });
      socket.once('secureConnect', () => socket.once('close', () => resolve('closed')).write(Buffer.from([0x10, 0])));
      socket.once('error', (error) => resolve(`error: ${error.message}`));
    });
    expect(outcome).toMatch(/error|closed/);
  });

  it("initialises the broker's dynamic-security admin with the password onboarding is given", () => {
    const file = join(root, 'dynamic-security.json');
    const password = readFileSync(join(out, 'broker/admin-password'), 'utf8');
    execFileSync('mosquitto_ctrl', ['dynsec', 'init', file, 'admin', password], { env: sbin, stdio: 'pipe' });
    const config = JSON.parse(readFileSync(file, 'utf8')) as { clients: { username: string }[] };
    expect(config.clients.map((c) => c.username)).toEqual(['admin']);
  });
});
