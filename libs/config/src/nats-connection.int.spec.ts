import { spawn, type ChildProcess } from 'node:child_process';
import { connect as connectTcp, createServer, type AddressInfo, type Socket } from 'node:net';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { connectNats } from './nats-connection.js';

const url = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';

/** Socket writes the connection makes (a corked socket hands its chunks over in one `_writev`). */
function countWrites(nc: NatsConnection): { count: number } {
  const socket = (nc as unknown as { protocol: { transport: { socket: Socket } } }).protocol.transport.socket;
  const counted = { count: 0 };
  const internal = socket as unknown as Record<'_write' | '_writev', (...args: unknown[]) => void>;
  for (const method of ['_write', '_writev'] as const) {
    const original = internal[method].bind(socket);
    internal[method] = (...args: unknown[]) => {
      counted.count++;
      original(...args);
    };
  }
  return counted;
}

/** 50 publishes, each in a later microtask than the one before (as after an await): nats.js flushes after each. */
async function publishOneByOne(nc: NatsConnection, subject: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    await Promise.resolve();
    nc.publish(subject, String(i));
  }
}

describe('connectNats: the writes of one event-loop turn go out as one', () => {
  let coalesced: NatsConnection;
  let plain: NatsConnection;
  let receiver: NatsConnection;
  beforeAll(async () => {
    coalesced = await connectNats({ servers: url, name: 'coalesced' });
    plain = await connect({ servers: url, name: 'plain' });
    receiver = await connect({ servers: url, name: 'receiver' });
  });
  afterAll(async () => {
    await Promise.all([coalesced?.close(), plain?.close(), receiver?.close()]);
  });

  it('writes 50 messages published from 50 microtasks once (the plain client: once each), and every one arrives, in order', async () => {
    const subject = `coalesce.${Date.now()}`;
    const received: string[] = [];
    const sub = receiver.subscribe(`${subject}.>`, { callback: (_e, msg) => void received.push(msg.string()) });
    await receiver.flush();

    const plainWrites = countWrites(plain);
    await publishOneByOne(plain, `${subject}.plain`);
    await plain.flush();
    const coalescedWrites = countWrites(coalesced);
    await publishOneByOne(coalesced, `${subject}.coalesced`);
    await coalesced.flush();

    expect(plainWrites.count).toBeGreaterThanOrEqual(50);
    expect(coalescedWrites.count).toBeLessThanOrEqual(2); // the messages, then flush's PING
    await receiver.flush();
    const expected = Array.from({ length: 50 }, (_, i) => String(i));
    expect(received).toEqual([...expected, ...expected]);
    sub.unsubscribe();
  });

  it('answers requests and survives a reconnect with the same transport', async () => {
    const subject = `coalesce-echo.${Date.now()}`;
    receiver.subscribe(subject, { callback: (_e, msg) => void msg.respond(msg.data) });
    await receiver.flush();
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => coalesced.request(subject, String(i), { timeout: 5_000 })),
    );
    expect(replies.map((r) => r.string())).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    const reconnected = (async () => {
      for await (const status of coalesced.status()) if (status.type === 'reconnect') return;
    })();
    (coalesced as unknown as { protocol: { transport: { socket: Socket } } }).protocol.transport.socket.destroy();
    await reconnected;
    const again = await coalesced.request(subject, 'after', { timeout: 5_000 });
    expect(again.string()).toBe('after');
  });
});

describe('connectNats: a connection outlives an outage of the bus', () => {
  const freePort = () =>
    new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });
  const binary = process.env['NATS_SERVER_BIN'] ?? '/usr/sbin/nats-server';
  /** Polls `check` every 50 ms until it holds (@tunnelkey/testing's waitFor depends on this library). */
  const waitFor = async (check: () => Promise<unknown> | unknown, o: { timeoutMs?: number; description: string }) => {
    const deadline = Date.now() + (o.timeoutMs ?? 5_000);
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${o.description}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  let server: ChildProcess | undefined;
  const start = async (port: number) => {
    server = spawn(binary, ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    await waitFor(
      () =>
        new Promise<boolean>((resolve) => {
          const socket = connectTcp(port, '127.0.0.1', () => (socket.end(), resolve(true)));
          socket.once('error', () => resolve(false));
        }),
      { timeoutMs: 10_000, description: 'nats-server listening' },
    );
  };
  afterEach(() => server?.kill('SIGKILL'));

  it('keeps reconnecting past the attempts nats.js would give up after, and works again once the server is back', async () => {
    const port = await freePort();
    await start(port);
    // The attempts' pace shortened for the test; their number is the default connectNats sets.
    const nc = await connectNats({ servers: `nats://127.0.0.1:${port}`, reconnectTimeWait: 100, reconnectJitter: 0 });
    try {
      const received: string[] = [];
      nc.subscribe('outage.test', { callback: (_e, m) => void received.push(m.string()) });
      await nc.flush();
      server!.kill('SIGKILL');
      // Down for 2.5 s: nats.js's default 10 attempts at 100 ms would have given up after about 1 s.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      expect(nc.isClosed()).toBe(false);
      await start(port);
      await waitFor(
        async () =>
          (await nc.flush().then(
            () => true,
            () => false,
          )) || undefined,
        {
          timeoutMs: 10_000,
          description: 'the connection back',
        },
      );
      nc.publish('outage.test', 'after');
      await waitFor(() => received.includes('after') || undefined, { description: 'the subscription restored' });
    } finally {
      await nc.close();
    }
  }, 30_000);
});
