/**
 * The whole platform as separate OS processes from the built output, as the image runs them
 * (`tunnelkey <service>`), each configured only by its environment: keys and KEKs in files, the
 * CA ceremony as a command (root and the owner's issuing CA, before the CA serves), a real
 * Mosquitto on the bootstrap trust of deploy/mosquitto/bootstrap.sh with its broker agent beside it
 * (the only process touching the broker's files, pid and log; onboarding reaches both over the
 * network), optionally the fleet. Used by `npm run platform` and its e2e.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMosquitto, type RunningMosquitto } from '@tunnelkey/testing';
import { repoRoot } from './deployment-files.js';
import { freePort, startProcess, type ServiceProcess } from './service-process.js';

export const platformServices = ['registry', 'ca', 'onboarding', 'revocation', 'gateway', 'broker-agent'] as const;
export type PlatformService = (typeof platformServices)[number];

/** The services' fixed default ports (their configuration's HTTP_PORT defaults). */
const defaultPorts: Record<PlatformService, number> = {
  registry: 3101,
  ca: 3102,
  onboarding: 3103,
  revocation: 3104,
  gateway: 8080,
  'broker-agent': 3106,
};

export interface PlatformProcessesOptions {
  namespace: string;
  ownerId: string;
  /** `free`: free ports (tests); `defaults`: the services' fixed defaults. */
  ports: 'free' | 'defaults';
  logLevel?: string;
  /** Start simulated devices too: their identity file is written to `<dir>/identities.csv`. */
  fleet?: { devices: number; telemetryIntervalMs: number };
  /** Each line a process writes (default: kept in its `lines` only). */
  onLine?: (process: string, line: string) => void;
  /** The bus every process connects to (default NATS_URL, else the loopback server). */
  natsUrl?: string;
  /** More environment for every process (e.g. JETSTREAM_REPLICAS on a cluster). */
  env?: Record<string, string>;
}

export interface PlatformProcesses {
  readonly dir: string;
  readonly ports: ReadonlyMap<PlatformService, number>;
  readonly processes: ReadonlyMap<string, ServiceProcess>;
  readonly broker: RunningMosquitto;
  readonly adminToken: string;
  readonly rootFingerprintSha256: string;
  /** The file name (in onboarding's ONBOARDING_TARGET_SECRETS_DIR) holding the broker's admin password. */
  readonly adminPasswordFile: string;
  /**
   * Starts a service again with the same command and environment, as a pod's restart policy would
   * (a process that exited). Refused while it still runs.
   */
  restart(service: PlatformService): ServiceProcess;
  /** SIGKILL what still runs, stop the broker, remove the directory. */
  destroy(): Promise<void>;
}

export async function startPlatformProcesses(options: PlatformProcessesOptions): Promise<PlatformProcesses> {
  const dir = mkdtempSync(join(tmpdir(), 'tunnelkey-platform-'));
  const processes = new Map<string, ServiceProcess>();
  const starts = new Map<PlatformService, () => ServiceProcess>();
  const ports = new Map<PlatformService, number>();
  let broker: RunningMosquitto | undefined;
  const destroy = async () => {
    for (const p of processes.values()) await p.kill();
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const adminToken = randomBytes(24).toString('hex');
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(dir, 'platform-key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(dir, 'platform-public-key.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    for (const kek of ['ca-kek', 'root-kek', 'onboarding-kek']) {
      writeFileSync(join(dir, kek), randomBytes(32).toString('hex'));
    }
    const common = {
      PATH: `${process.env.PATH ?? ''}:/usr/sbin`,
      NATS_URL: options.natsUrl ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
      TUNNELKEY_NAMESPACE: options.namespace,
      HTTP_HOST: '127.0.0.1',
      LOG_LEVEL: options.logLevel ?? 'warn',
      SHUTDOWN_TIMEOUT_MS: '10000',
      PLATFORM_KEY_FILE: join(dir, 'platform-key.pem'),
      // What the image sets: /health reports it.
      TUNNELKEY_VERSION: (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string })
        .version,
      ...options.env,
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
    // Its result is the JSON line with the fingerprint (its log lines come before it at LOG_LEVEL=info).
    const resultLine = ceremony('create-root')
      .split('\n')
      .find((line) => line.includes('"fingerprintSha256"'));
    const root = JSON.parse(resultLine ?? '{}') as { fingerprintSha256?: string };
    if (!root.fingerprintSha256) throw new Error('the ceremony printed no root fingerprint');
    ceremony('sign-issuing-ca', '--owner', options.ownerId);

    // The broker on its bootstrap trust; its agent gets its files, pid and log; onboarding its
    // server CA (sent to devices) and the admin password file.
    execFileSync('sh', [join(repoRoot, 'deploy/mosquitto/bootstrap.sh'), join(dir, 'broker')], { stdio: 'ignore' });
    broker = await startMosquitto({
      tls: {
        caFile: join(dir, 'broker/bootstrap-ca.pem'),
        crlFile: join(dir, 'broker/bootstrap-crl.pem'),
        certFile: join(dir, 'broker/server.pem'),
        keyFile: join(dir, 'broker/server.key'),
      },
    });
    const adminPasswordFile = 'broker-admin';
    mkdirSync(join(dir, 'targets'));
    writeFileSync(join(dir, 'targets', adminPasswordFile), broker.admin.password);

    const own: Record<PlatformService, Record<string, string>> = {
      registry: {},
      ca: { CA_KEK_FILE: join(dir, 'ca-kek') },
      onboarding: {
        ONBOARDING_KEK_FILE: join(dir, 'onboarding-kek'),
        TRUSTED_ROOT_SHA256: root.fingerprintSha256,
        ONBOARDING_TARGET_SECRETS_DIR: join(dir, 'targets'),
        ONBOARDING_TELEMETRY_INTERVAL_MS: '1000',
        MOSQUITTO_SERVER_CA_FILES: JSON.stringify({ '*': join(dir, 'broker/server-ca.pem') }),
      },
      revocation: {},
      gateway: { GATEWAY_ADMIN_TOKEN: adminToken },
      'broker-agent': {
        BROKER_ID: 'broker-1',
        BROKER_CA_FILE: broker.caFile,
        BROKER_CRL_FILE: broker.crlFile!,
        BROKER_ACL_FILE: broker.aclFile,
        BROKER_PID_FILE: broker.pidFile,
        BROKER_LOG_FILE: broker.logFile,
      },
    };
    for (const service of platformServices) {
      const port = options.ports === 'free' ? await freePort() : defaultPorts[service];
      ports.set(service, port);
      const extra: Record<string, string> = service === 'ca' ? { CRL_BASE_URL: `http://127.0.0.1:${port}/crl` } : {};
      const start = () =>
        startProcess([service], { ...common, ...own[service], ...extra, HTTP_PORT: String(port) }, (line) =>
          options.onLine?.(service, line),
        );
      starts.set(service, start);
      processes.set(service, start());
    }
    if (options.fleet) {
      processes.set(
        'fleet',
        startProcess(
          [
            'fleet',
            ...['--devices', String(options.fleet.devices), '--namespace', options.namespace],
            ...['--seed-base', options.namespace, '--identity-file', join(dir, 'identities.csv')],
            ...['--platform-key-file', join(dir, 'platform-public-key.pem')],
            ...['--telemetry-interval', String(options.fleet.telemetryIntervalMs), '--hardware-threads', '0'],
          ],
          common,
          (line) => options.onLine?.('fleet', line),
        ),
      );
    }
    return {
      dir,
      ports,
      processes,
      broker,
      adminToken,
      rootFingerprintSha256: root.fingerprintSha256,
      adminPasswordFile,
      restart(service) {
        const current = processes.get(service)!;
        if (current.child.exitCode === null && current.child.signalCode === null)
          throw new Error(`${service} still runs: not started again`);
        const started = starts.get(service)!();
        processes.set(service, started);
        return started;
      },
      destroy,
    };
  } catch (error) {
    await destroy();
    throw error;
  }
}
