/**
 * A nats-server with JetStream that the fault suite owns: its own free port and its own store
 * directory, so it can be SIGKILLed (or paused with SIGSTOP) and started again on the same port
 * and the same store without touching the shared server on 4222. Its output is appended to
 * `<dir>/nats-server.log` across restarts. `stop()` ends it and removes the directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MissingPrerequisiteError } from '../support/infrastructure.js';
import { freePort } from '../support/platform.js';

export class NatsProcess {
  #child: ChildProcess | undefined;
  readonly #log: WriteStream;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly binary: string,
  ) {
    this.#log = createWriteStream(join(dir, 'nats-server.log'), { flags: 'a' });
  }

  static async start(): Promise<NatsProcess> {
    const binary =
      process.env['NATS_SERVER_BIN'] ??
      (process.env['PATH']?.split(':').includes('/usr/sbin') ? 'nats-server' : '/usr/sbin/nats-server');
    const dir = await mkdtemp(join(tmpdir(), 'tk-faults-nats-'));
    const server = new NatsProcess(await freePort(), dir, binary);
    try {
      await server.restart();
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get storeDir(): string {
    return join(this.dir, 'js');
  }

  get logFile(): string {
    return join(this.dir, 'nats-server.log');
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Starts the server on the same port and store; resolves once it logged "Server is ready". */
  async restart(): Promise<void> {
    if (this.running) throw new Error('nats-server is still running');
    const child = spawn(this.binary, ['-js', '-a', '127.0.0.1', '-p', String(this.port), '-sd', this.storeDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        this.#log.write(chunk);
        output += chunk.toString();
        if (output.includes('Server is ready')) {
          output = '';
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('error', (error) =>
        reject(
          new MissingPrerequisiteError(`cannot start ${this.binary}`, 'sudo apt-get install -y nats-server', {
            cause: error,
          }),
        ),
      );
      child.once('exit', (code, signal) => reject(new Error(`nats-server exited (${code ?? signal}): ${output}`)));
    });
  }

  /** Sends `signal` to the server; with SIGKILL, resolves once it has exited. */
  async signal(signal: 'SIGKILL' | 'SIGSTOP' | 'SIGCONT' | 'SIGTERM'): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) throw new Error('nats-server is not running');
    const exited = signal === 'SIGKILL' || signal === 'SIGTERM' ? new Promise((r) => child.once('exit', r)) : undefined;
    child.kill(signal);
    await exited;
  }

  async stop(): Promise<void> {
    if (this.running) await this.signal('SIGCONT').then(() => this.signal('SIGTERM'));
    await new Promise((resolve) => this.#log.end(resolve));
    await rm(this.dir, { recursive: true, force: true });
  }
}
