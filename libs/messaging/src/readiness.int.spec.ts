import type { Socket } from 'node:net';
import { connectNats } from '@tunnelkey/config';
import type { NatsConnection } from '@nats-io/transport-node';
import { ReadinessRegistry } from './platform.module.js';

const url = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';

describe('ReadinessRegistry on a connection', () => {
  let nc: NatsConnection;
  beforeEach(async () => {
    nc = await connectNats({ servers: url, name: 'readiness', reconnectTimeWait: 50 });
  });
  afterEach(() => nc.close());

  it('a follower is not ready after a reconnect until it has caught up; nats fails once the connection is closed', async () => {
    const readiness = new ReadinessRegistry(nc);
    let caughtUp!: () => void;
    let asked!: () => void;
    const catchUpAsked = new Promise<void>((resolve) => (asked = resolve));
    readiness.addFollower(
      'view',
      () => true,
      () => {
        asked();
        return new Promise<void>((resolve) => (caughtUp = resolve));
      },
    );
    readiness.add({ name: 'other', ready: () => true });
    expect(readiness.failing()).toEqual([]);

    (nc as unknown as { protocol: { transport: { socket: Socket } } }).protocol.transport.socket.destroy();
    await catchUpAsked;
    expect(readiness.failing()).toEqual(['view']);
    caughtUp();
    await new Promise((resolve) => setImmediate(resolve));
    expect(readiness.failing()).toEqual([]);

    await nc.close();
    expect(readiness.failing()).toContain('nats');
    readiness.onApplicationShutdown();
  });
});
