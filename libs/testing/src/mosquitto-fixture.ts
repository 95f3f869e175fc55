import { spawn, type ChildProcess } from 'node:child_process';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from './free-ports.js';

/** TLS material for the device listener, as files to copy or as PEM text. */
export type MosquittoTls =
  | { caFile: string; certFile: string; keyFile: string; crlFile?: string }
  | { caPem: string; certPem: string; keyPem: string; crlPem?: string };

export interface StartMosquittoOptions {
  /** Device listener: mutual TLS with this CA bundle (and CRL), the broker's own certificate and key. */
  tls: MosquittoTls;
  /** Load the dynamic-security plugin with a fresh config holding one admin client. Default true. */
  dynsec?: boolean;
  /** Bind the MQTT client id to the certificate identity (see deploy/mosquitto/README.md). Default true. */
  useUsernameAsClientId?: boolean;
  /** Default /usr/sbin/mosquitto (or MOSQUITTO_BIN). */
  binary?: string;
  /** Default the Debian path (or MOSQUITTO_DYNSEC_PLUGIN). */
  dynsecPlugin?: string;
  /** Extra lines appended to the global section of the config. */
  extraConfig?: readonly string[];
  /** How long to wait for both ports. Default 10 s. */
  startTimeoutMs?: number;
}

export interface RunningMosquitto {
  readonly host: '127.0.0.1';
  /** Device listener: mutual TLS, certificate CN as username (and client id). */
  readonly tlsPort: number;
  /** Loopback plain listener for the admin/monitoring client (dynsec password auth). */
  readonly adminPort: number;
  readonly admin: { username: string; password: string };
  readonly pid: number;
  /** Everything lives here and is removed by stop(). */
  readonly dir: string;
  readonly configFile: string;
  readonly logFile: string;
  readonly pidFile: string;
  readonly dynsecFile: string;
  /** The broker reads these on start and on reload(); tests and adapters may rewrite them. */
  readonly caFile: string;
  readonly crlFile: string | undefined;
  /** The broker's acl_file (`pattern` lines), empty at start: onboarding writes the devices' rights there. */
  readonly aclFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** SIGHUP: re-reads cafile/crlfile/certificates; live sessions stay. Resolves once the broker logged the reload. */
  reload(): Promise<void>;
  /** Stop and start the same broker on the same ports (settings such as use_username_as_clientid only apply then). */
  restart(): Promise<void>;
  /** The broker's log so far. */
  log(): Promise<string>;
  /** Stops the broker and removes its directory. */
  stop(): Promise<void>;
}

export class MosquittoFixtureError extends Error {
  override readonly name = 'MosquittoFixtureError';
  readonly code = 'MOSQUITTO_FIXTURE';
  constructor(
    message: string,
    readonly context: Readonly<Record<string, string | number | undefined>> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const defaultBinary = () => process.env['MOSQUITTO_BIN'] ?? '/usr/sbin/mosquitto';
const defaultPlugin = () =>
  process.env['MOSQUITTO_DYNSEC_PLUGIN'] ?? '/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so';

/**
 * A real Mosquitto for one test file, on free loopback ports, in its own temp directory:
 * ```ts
 * const broker = await startMosquitto({ tls: { caPem, certPem, keyPem, crlPem } });
 * afterAll(() => broker.stop());
 * ```
 * The TLS listener requires a client certificate and takes its CN as username; the plain
 * listener is for the admin client only (password auth through dynamic security).
 */
export async function startMosquitto(options: StartMosquittoOptions): Promise<RunningMosquitto> {
  const dir = await mkdtemp(join(tmpdir(), 'tk-mosquitto-'));
  try {
    return await startIn(dir, options);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function startIn(dir: string, options: StartMosquittoOptions): Promise<RunningMosquitto> {
  const files = {
    configFile: join(dir, 'mosquitto.conf'),
    logFile: join(dir, 'mosquitto.log'),
    pidFile: join(dir, 'mosquitto.pid'),
    dynsecFile: join(dir, 'dynamic-security.json'),
    caFile: join(dir, 'ca.pem'),
    aclFile: join(dir, 'acl'),
    certFile: join(dir, 'server.pem'),
    keyFile: join(dir, 'server.key'),
  };
  const crlFile = await installTls(options.tls, files, join(dir, 'crl.pem'));
  await writeFile(files.aclFile, '# rights are written here by onboarding\n');
  const dynsec = options.dynsec ?? true;
  const admin = { username: 'tk-admin', password: randomBytes(18).toString('base64url') };
  if (dynsec) await writeFile(files.dynsecFile, JSON.stringify(dynsecConfig(admin), null, 2), { mode: 0o600 });
  const [tlsPort, adminPort] = await freePorts(2);
  const config = [
    '# Written by @tunnelkey/testing startMosquitto; see deploy/mosquitto/README.md for what each line does.',
    ...(process.getuid?.() === 0 ? ['user root'] : []),
    'per_listener_settings false',
    'allow_anonymous false',
    'persistence false',
    `pid_file ${files.pidFile}`,
    `log_dest file ${files.logFile}`,
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'connection_messages true',
    'log_timestamp true',
    'log_timestamp_format %Y-%m-%dT%H:%M:%S',
    `acl_file ${files.aclFile}`,
    '',
    `listener ${tlsPort} 127.0.0.1`,
    `cafile ${files.caFile}`,
    ...(crlFile ? [`crlfile ${crlFile}`] : []),
    `certfile ${files.certFile}`,
    `keyfile ${files.keyFile}`,
    'require_certificate true',
    'use_identity_as_username true',
    ...((options.useUsernameAsClientId ?? true) ? ['use_username_as_clientid true'] : []),
    'set_tcp_nodelay true',
    '',
    `listener ${adminPort} 127.0.0.1`,
    'set_tcp_nodelay true',
    '',
    ...(dynsec
      ? [`plugin ${options.dynsecPlugin ?? defaultPlugin()}`, `plugin_opt_config_file ${files.dynsecFile}`]
      : []),
    ...(options.extraConfig ?? []),
    '',
  ].join('\n');
  await writeFile(files.configFile, config);

  const binary = options.binary ?? defaultBinary();
  const timeoutMs = options.startTimeoutMs ?? 10_000;
  let process_ = await launch(binary, files.configFile, [tlsPort!, adminPort!], timeoutMs, files.logFile);
  let reloads = 0;

  const running: RunningMosquitto = {
    host: '127.0.0.1',
    tlsPort: tlsPort!,
    adminPort: adminPort!,
    admin,
    get pid() {
      return process_.pid ?? -1;
    },
    dir,
    ...files,
    crlFile,
    async reload() {
      const before = await countReloads(files.logFile);
      process_.kill('SIGHUP');
      reloads = await waitUntil(
        async () => {
          const now = await countReloads(files.logFile);
          return now > Math.max(before, reloads) ? now : undefined;
        },
        timeoutMs,
        'the broker to log its reload',
      );
      // The reload runs synchronously right after the log line; give the loop a turn.
      await new Promise((resolve) => setTimeout(resolve, 20));
    },
    async restart() {
      await terminate(process_);
      process_ = await launch(binary, files.configFile, [tlsPort!, adminPort!], timeoutMs, files.logFile);
    },
    log: () => readFile(files.logFile, 'utf8').catch(() => ''),
    async stop() {
      await terminate(process_);
      await rm(dir, { recursive: true, force: true });
    },
  };
  return running;
}

async function installTls(
  tls: MosquittoTls,
  files: { caFile: string; certFile: string; keyFile: string },
  crlTarget: string,
): Promise<string | undefined> {
  if ('caPem' in tls) {
    await writeFile(files.caFile, tls.caPem);
    await writeFile(files.certFile, tls.certPem);
    await writeFile(files.keyFile, tls.keyPem, { mode: 0o600 });
    if (tls.crlPem === undefined) return undefined;
    await writeFile(crlTarget, tls.crlPem);
    return crlTarget;
  }
  await copyFile(tls.caFile, files.caFile);
  await copyFile(tls.certFile, files.certFile);
  await copyFile(tls.keyFile, files.keyFile);
  if (tls.crlFile === undefined) return undefined;
  await copyFile(tls.crlFile, crlTarget);
  return crlTarget;
}

/**
 * The dynamic-security file `mosquitto_ctrl dynsec init` writes (PBKDF2-SHA512, 101 iterations,
 * 12-byte salt), written here so the fixture needs no mosquitto_ctrl. The admin may use the
 * control API and read everything (the monitoring client), but publish nowhere else.
 */
function dynsecConfig(admin: { username: string; password: string }) {
  const salt = randomBytes(12);
  const iterations = 101;
  const hash = pbkdf2Sync(admin.password, salt, iterations, 64, 'sha512');
  const acl = (acltype: string, topic: string) => ({ acltype, topic, allow: true });
  return {
    clients: [
      {
        username: admin.username,
        textName: 'tunnelkey admin',
        password: hash.toString('base64'),
        salt: salt.toString('base64'),
        iterations,
        roles: [{ rolename: 'admin' }],
      },
    ],
    roles: [
      {
        rolename: 'admin',
        acls: [
          acl('publishClientSend', '$CONTROL/dynamic-security/#'),
          acl('publishClientReceive', '$CONTROL/dynamic-security/#'),
          acl('subscribePattern', '$CONTROL/dynamic-security/#'),
          acl('publishClientReceive', '$SYS/#'),
          acl('subscribePattern', '$SYS/#'),
          acl('publishClientReceive', '#'),
          acl('subscribePattern', '#'),
          acl('unsubscribePattern', '#'),
        ],
      },
    ],
    // Deny by default: a certificate the platform has not onboarded may connect but do nothing.
    defaultACLAccess: { publishClientSend: false, publishClientReceive: true, subscribe: false, unsubscribe: true },
  };
}

async function launch(
  binary: string,
  configFile: string,
  ports: number[],
  timeoutMs: number,
  logFile: string,
): Promise<ChildProcess> {
  const child = spawn(binary, ['-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => {
    if (output.length < 8192) output += chunk.toString('utf8');
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let exited: string | undefined;
  child.once('exit', (code, signal) => (exited = signal ? `signal ${signal}` : `exit code ${String(code)}`));
  try {
    await waitUntil(
      async () => {
        if (exited !== undefined)
          throw new MosquittoFixtureError(`mosquitto exited while starting (${exited})`, { exited });
        for (const port of ports) if (!(await answers(port))) return undefined;
        return true;
      },
      timeoutMs,
      'mosquitto to listen',
    );
  } catch (error) {
    child.kill('SIGKILL');
    const log = await readFile(logFile, 'utf8').catch(() => '');
    // Why (exited, or a port not answering in time), what it printed (a bind error goes to stderr) and its log's end.
    const last = (text: string, lines: number) => text.trim().split('\n').slice(-lines).join(' | ');
    const why = error instanceof Error ? error.message : String(error);
    throw new MosquittoFixtureError(
      `mosquitto did not start (${why}): ${last(output, 3) || 'no output'} | log: ${last(log, 5)}`,
      { binary, configFile },
      { cause: error },
    );
  }
  return child;
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(timer);
}

async function countReloads(logFile: string): Promise<number> {
  const log = await readFile(logFile, 'utf8').catch(() => '');
  return log.split('Reloading config.').length - 1;
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, '127.0.0.1', () => done(true));
  });
}

async function waitUntil<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new MosquittoFixtureError(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
