import type { Socket } from 'node:net';
import { connectNats } from '@tunnelkey/config';
import type { NatsConnection } from '@nats-io/transport-node';
import { ConnectionWatch } from './connection-watch.js';

const url = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';

describe('ConnectionWatch', () => {
  let nc: NatsConnection;
  beforeEach(async () => {
    nc = await connectNats({ servers: url, name: 'connection-watch', reconnectTimeWait: 50 });
  });
  afterEach(() => nc.close());

  it('calls back after a reconnect, connected again; not connected once the connection is closed', async () => {
    let reconnects = 0;
    let reconnected!: () => void;
    const back = new Promise<void>((resolve) => (reconnected = resolve));
    const watch = new ConnectionWatch(nc, () => {
      reconnects++;
      reconnected();
    });
    expect(watch.connected).toBe(true);
    (nc as unknown as { protocol: { transport: { socket: Socket } } }).protocol.transport.socket.destroy();
    await back;
    expect(reconnects).toBe(1);
    expect(watch.connected).toBe(true);
    await nc.close();
    expect(watch.connected).toBe(false);
    watch.stop();
  });
});
