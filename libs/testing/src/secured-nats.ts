/**
 * The production bus (deploy/nats/nats.conf) on a nats-server of its own, for tests: started from
 * THAT file with only the port, the monitoring port, the store directory and the certificate paths
 * replaced (development certificates from deploy/nats/dev-certs.sh), a random password per user.
 * Its log is kept, so a test can show that nothing was refused (`violations()`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { freePort } from './free-ports.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const repo = new URL('../../../', import.meta.url).pathname;

/** The users deploy/nats/nats.conf defines (PLATFORM: the services; DEVICES: the fleet). */
export const securedNatsUsers = [
  'registry',
  'ca',
  'onboarding',
  'revocation',
  'ota',
  'gateway',
  'broker_agent',
  'fleet',
] as const;
export type SecuredNatsUser = (typeof securedNatsUsers)[number];

export interface SecuredNats {
  /** nats://127.0.0.1:<port> (TLS is required by the server; clients upgrade). */
  readonly url: string;
  readonly port: number;
  /** The monitoring endpoint (http://127.0.0.1:<port>: /connz?auth=true lists each connection's user). */
  readonly monitorUrl: string;
  /** The temp directory (certificates, configuration, JetStream store), removed by stop(). */
  readonly dir: string;
  /** The development CA the server certificate chains to. */
  readonly caFile: string;
  readonly passwords: Readonly<Record<SecuredNatsUser, string>>;
  /** The environment a process of `user` gets in production: NATS_URL, NATS_USER, NATS_PASSWORD, NATS_TLS_CA_FILE. */
  envOf(user: SecuredNatsUser): Record<string, string>;
  /** nats-server's log so far. */
  log(): string;
  /** The log lines of refused publishes and subscriptions so far ("Publish Violation", "Subscription Violation"...). */
  violations(): string[];
  stop(): Promise<void>;
}

async function run(command: string, args: string[]): Promise<void> {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`${command} failed (${code}): ${stderr}`);
}

/** The configuration file with only the port, monitoring port, store directory and certificate paths replaced. */
export function templateNatsConf(
  template: string,
  replace: { port: number; httpPort: number; storeDir: string; tlsDir: string },
): string {
  const replacements: [string, string][] = [
    ['listen: 0.0.0.0:4222', `listen: 127.0.0.1:${replace.port}`],
    ['http: 127.0.0.1:8222', `http: 127.0.0.1:${replace.httpPort}`],
    ['store_dir: /data', `store_dir: ${replace.storeDir}`],
  ];
  let conf = template;
  for (const [from, to] of replacements) {
    if (!conf.includes(from))
      throw new Error(`deploy/nats/nats.conf no longer contains "${from}": update the template`);
    conf = conf.replace(from, to);
  }
  if (!conf.includes('/etc/nats/tls/')) throw new Error('deploy/nats/nats.conf names no /etc/nats/tls/ files');
  return conf.replaceAll('/etc/nats/tls/', `${replace.tlsDir}/`);
}

export async function startSecuredNats(): Promise<SecuredNats> {
  const dir = await mkdtemp(join(tmpdir(), 'tk-nats-secured-'));
  try {
    const tlsDir = join(dir, 'tls');
    await run('sh', [join(repo, 'deploy/nats/dev-certs.sh'), tlsDir]);
    const [port, httpPort] = [await freePort(), await freePort()];
    const template = await readFile(join(repo, 'deploy/nats/nats.conf'), 'utf8');
    await writeFile(
      join(dir, 'nats.conf'),
      templateNatsConf(template, { port, httpPort, storeDir: join(dir, 'js'), tlsDir }),
    );
    // nats-server parses a variable's value as a config value: a password must start with a letter.
    const passwords = Object.fromEntries(
      securedNatsUsers.map((u) => [u, `p${randomBytes(12).toString('hex')}`]),
    ) as Record<SecuredNatsUser, string>;
    const env = {
      ...process.env,
      ...Object.fromEntries(securedNatsUsers.map((u) => [`NATS_${u.toUpperCase()}_PASSWORD`, passwords[u]])),
    };
    const binary =
      process.env.NATS_SERVER_BIN ??
      (process.env.PATH?.split(':').includes('/usr/sbin') ? 'nats-server' : '/usr/sbin/nats-server');
    const child: ChildProcess = spawn(binary, ['-c', join(dir, 'nats.conf')], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    const onData = (chunk: Buffer) => void (log += chunk.toString());
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    await new Promise<void>((resolve, reject) => {
      const ready = () => {
        if (log.includes('Server is ready')) resolve();
      };
      child.stdout?.on('data', ready);
      child.stderr?.on('data', ready);
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`nats-server exited (${code}): ${log}`)));
    });
    // A test process that exits without stop() (e.g. Nest's abort on a failed start) takes the server with it.
    const killOnExit = () => void child.kill('SIGTERM');
    process.once('exit', killOnExit);
    const caFile = join(tlsDir, 'ca.pem');
    const url = `nats://127.0.0.1:${port}`;
    return {
      url,
      port,
      monitorUrl: `http://127.0.0.1:${httpPort}`,
      dir,
      caFile,
      passwords,
      envOf: (user) => ({
        NATS_URL: url,
        NATS_USER: user,
        NATS_PASSWORD: passwords[user],
        NATS_TLS_CA_FILE: caFile,
      }),
      log: () => log,
      violations: () => log.split('\n').filter((line) => /Violation/.test(line)),
      async stop() {
        process.off('exit', killOnExit);
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGTERM');
          await exited;
        }
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
