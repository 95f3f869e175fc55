/**
 * The bus killed and started again on its store under a durable subscription: its own nats-server
 * (a free port, a temp store), SIGSTOPped while the handler runs so the handler's ack is stuck in
 * the socket, then SIGKILLed (the ack is lost) and restarted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectNats } from '@tunnelkey/config';
import { freePort } from '@tunnelkey/testing';
import type { NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { JetStreamEventStore } from './jetstream-event-store.js';

const binary = process.env['NATS_SERVER_BIN'] ?? '/usr/sbin/nats-server';

/** Starts nats-server with JetStream on `port` and `dir`; resolves once it is ready. */
const startServer = (port: number, dir: string) =>
  new Promise<ChildProcess>((resolve, reject) => {
    const child = spawn(binary, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let output = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Server is ready')) resolve(child);
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`nats-server exited (${code}): ${output}`)));
  });

const policyEvent = (name: string) => ({
  type: 'ServerPolicyDefined',
  version: 1,
  id: crypto.randomUUID(),
  aggregateId: 'p-1',
  occurredAt: '2026-01-02T03:04:05.000Z',
  causationId: `cause-${name}`,
  correlationId: 'corr-1',
  data: {
    policyId: 'p-1',
    name,
    targetIds: [],
    topicRights: [{ topic: 'dev/{deviceId}/up', access: 'publish' as const }],
    certificateLifetimeDays: 365,
  },
});

describe('a durable subscription across a bus restart', () => {
  let dir: string;
  let server: ChildProcess | undefined;
  let nc: NatsConnection | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tk-es-restart-'));
  });
  afterEach(async () => {
    server?.kill('SIGCONT');
    server?.kill('SIGKILL');
    await nc?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('an event whose ack the bus lost is not handled again: the ack is sent again after the reconnect', async () => {
    const port = await freePort();
    server = await startServer(port, dir);
    nc = await connectNats({ servers: `nats://127.0.0.1:${port}`, reconnectTimeWait: 100 });
    const store = new JetStreamEventStore(nc, {
      namespace: 'restart',
      logger: pino({ level: 'silent' }),
      ackWaitMs: 3_000,
    });
    await store.ensureStreams(['registry']);
    await store.append(
      { context: 'registry', aggregate: 'policy', id: 'p-1' },
      [policyEvent('one'), policyEvent('two')],
      {
        messageId: 'both',
        expectedVersion: 'any',
      },
    );
    const handled: string[] = [];
    let restarted: Promise<void> | undefined;
    let done!: () => void;
    const second = new Promise<void>((resolve) => (done = resolve));
    const sub = await store.subscribe({ durable: 'across-restart', context: 'registry' }, (recorded) => {
      const name = (recorded.event.data as { name: string }).name;
      handled.push(name);
      if (name === 'one' && !restarted) {
        // The ack this handler is about to get written never reaches the server.
        const stopped = server!;
        stopped.kill('SIGSTOP');
        restarted = (async () => {
          await new Promise((resolve) => setTimeout(resolve, 200));
          const exited = new Promise((resolve) => stopped.once('exit', resolve));
          stopped.kill('SIGKILL');
          await exited;
          server = await startServer(port, dir);
        })();
      }
      if (name === 'two') done();
    });
    await second;
    await restarted;
    await sub.stop();
    expect(handled).toEqual(['one', 'two']);
    await store.close();
  }, 30_000);
});
