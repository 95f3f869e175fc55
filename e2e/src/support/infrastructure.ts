/**
 * NATS for the demo and the bench: the server on NATS_URL (default nats://127.0.0.1:4222) if one
 * answers, else a `nats-server -js` started here on a free port with its store in a temp dir
 * (stopped and removed by `stop()`). Missing binaries are reported with the command that installs them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectNats, natsConnectionConfig, natsConnectionOptions } from '@tunnelkey/config';
import { freePort } from './platform.js';

export class MissingPrerequisiteError extends Error {
  override readonly name = 'MissingPrerequisiteError';
  readonly code = 'MISSING_PREREQUISITE';
  constructor(
    message: string,
    readonly install: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface NatsServer {
  url: string;
  /** True when this process started it. */
  started: boolean;
  stop(): Promise<void>;
}

async function answers(url: string): Promise<boolean> {
  try {
    const options = await natsConnectionOptions(natsConnectionConfig(process.env), {
      name: 'tunnelkey-probe',
      servers: url,
    });
    const nc = await connectNats({ ...options, timeout: 1_500, reconnect: false });
    await nc.close();
    return true;
  } catch {
    return false;
  }
}

export async function useOrStartNats(log: (line: string) => void): Promise<NatsServer> {
  const url = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
  if (await answers(url)) return { url, started: false, stop: async () => undefined };
  const binary = process.env['NATS_SERVER_BIN'] ?? 'nats-server';
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'tk-demo-nats-'));
  log(`no NATS answers at ${url}: starting ${binary} -js on 127.0.0.1:${port}`);
  let child: ChildProcess;
  try {
    child = await new Promise<ChildProcess>((resolve, reject) => {
      const c = spawn(binary, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir], { stdio: 'ignore' });
      c.once('error', reject);
      c.once('spawn', () => resolve(c));
    });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw new MissingPrerequisiteError(
      `cannot start ${binary}`,
      'sudo apt-get install -y nats-server   # or set NATS_URL to a running server with JetStream',
      { cause: error },
    );
  }
  const started = `nats://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 100; i++) {
    if (await answers(started)) return { url: started, started: true, stop };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stop();
  throw new MissingPrerequisiteError(`${binary} did not answer on ${started}`, 'sudo apt-get install -y nats-server');
}

export async function checkMosquitto(): Promise<void> {
  const binary = process.env['MOSQUITTO_BIN'] ?? '/usr/sbin/mosquitto';
  const plugin = process.env['MOSQUITTO_DYNSEC_PLUGIN'] ?? '/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so';
  for (const file of [binary, plugin]) {
    try {
      await access(file);
    } catch (error) {
      throw new MissingPrerequisiteError(
        `${file} not found`,
        'sudo apt-get install -y mosquitto   # or set MOSQUITTO_BIN / MOSQUITTO_DYNSEC_PLUGIN',
        { cause: error },
      );
    }
  }
}
