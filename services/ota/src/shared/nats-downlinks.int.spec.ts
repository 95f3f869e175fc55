/**
 * Chunk frames are paced by flushes: a flush still pending when the connection closes must end the
 * send (nats.js leaves it unsettled for good), or the chunk handler waiting on it never returns and
 * the service's shutdown, which waits for its handlers, hangs (the 200-device OTA e2e stalled so).
 */
import { generatePlatformKey } from '@tunnelkey/device-protocol';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '@tunnelkey/config';
import { DownlinkClosedError } from '../errors.js';
import { closeWatch, natsDownlinks } from './nats-downlinks.js';

const url = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
const frame = new Uint8Array(256 * 1024);

describe('natsDownlinks: chunk frames paced by flushes', () => {
  let nc: NatsConnection;
  beforeEach(async () => {
    nc = await connectNats({ servers: url, name: 'ota-downlinks-spec' });
  });
  afterEach(() => nc.close());

  it('sends frames past the flush threshold while the connection is up', async () => {
    const { key } = await generatePlatformKey();
    const downlinks = natsDownlinks(nc, { platformKey: key, namespace: 'downlinks-spec', flushBytes: frame.length });
    for (let i = 0; i < 4; i++) await downlinks.sendChunkFrame('device-1', frame);
  });

  it('a send waiting on a flush when the connection closes fails with DownlinkClosedError, and so does the next', async () => {
    const { key } = await generatePlatformKey();
    const downlinks = natsDownlinks(nc, { platformKey: key, namespace: 'downlinks-spec', flushBytes: frame.length });
    // Published, then waiting for the server's answer to the flush: the connection closes meanwhile.
    const waiting = downlinks.sendChunkFrame('device-1', frame);
    const queued = downlinks.sendChunkFrame('device-2', frame);
    await nc.close();
    await expect(waiting).rejects.toBeInstanceOf(DownlinkClosedError);
    await expect(queued).rejects.toThrow();
    await expect(downlinks.sendChunkFrame('device-3', frame)).rejects.toThrow();
  });

  it('closeWatch passes a wait through as it settles, and refuses one once closed', async () => {
    const untilClosed = closeWatch(nc);
    await expect(untilClosed(Promise.resolve('answered'))).resolves.toBe('answered');
    await expect(untilClosed(Promise.reject(new Error('disconnected')))).rejects.toThrow('disconnected');
    const never = new Promise<never>(() => undefined);
    const pending = untilClosed(never);
    await nc.close();
    await expect(pending).rejects.toMatchObject({ code: 'DOWNLINK_CLOSED' });
    await expect(untilClosed(never)).rejects.toBeInstanceOf(DownlinkClosedError);
  });
});
