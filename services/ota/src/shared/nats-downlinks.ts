/**
 * The DownlinkSender on NATS: signed envelopes through the device-protocol's DownlinkPublisher,
 * firmware-chunk frames published as they are. Frames are what fills the bus during a rollout
 * (a 1 MiB image to a thousand devices is a GiB), so they are paced: after every `flushBytes`
 * published, senders wait for a flush (the server has taken everything before it). Without it the
 * client's buffer and the server's pending bytes for the fleet's connection grow without bound,
 * and the server cuts a slow consumer off: every device then stalls and asks again.
 *
 * The wait ends when the connection closes too: nats.js leaves a flush pending at close()
 * unsettled for good, and every sender queued behind it with it (a chunk request handler that
 * never returns, so the service's shutdown, which waits for its handlers, never did either).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { firmwareChunkFrameSubject } from '@tunnelkey/contracts';
import { DownlinkPublisher, type PlatformKey } from '@tunnelkey/device-protocol';
import { DownlinkClosedError } from '../errors.js';
import type { DownlinkSender } from '../tokens.js';

export interface NatsDownlinksOptions {
  platformKey: PlatformKey;
  namespace: string;
  clock?: () => Date;
  /** Frame bytes published between flushes (default 4 MiB). */
  flushBytes?: number;
}

export function natsDownlinks(nats: NatsConnection, options: NatsDownlinksOptions): DownlinkSender {
  const { platformKey, namespace, clock } = options;
  const publisher = new DownlinkPublisher({
    platformKey,
    publish: (subject, data) => nats.publish(subject, data),
    namespace,
    ...(clock ? { clock } : {}),
  });
  const flushBytes = options.flushBytes ?? 4 * 1024 * 1024;
  const untilClosed = closeWatch(nats);
  let unflushed = 0;
  let flushing: Promise<void> | undefined;
  return {
    send: (definition, deviceId, body) => publisher.send(definition, deviceId, body),
    async sendChunkFrame(deviceId, frame) {
      while (flushing) await flushing;
      nats.publish(firmwareChunkFrameSubject(deviceId, namespace), frame);
      unflushed += frame.length;
      if (unflushed < flushBytes) return;
      unflushed = 0;
      flushing = untilClosed(nats.flush()).finally(() => (flushing = undefined));
      await flushing;
    },
  };
}

/**
 * Bounds waits on the connection by its closing: `untilClosed(p)` settles as `p` does, or rejects
 * with DownlinkClosedError once the connection has closed (a flush pending at close() never
 * settles by itself).
 */
export function closeWatch(nats: NatsConnection): <T>(wait: Promise<T>) => Promise<T> {
  const waiting = new Set<() => void>();
  let closed = nats.isClosed();
  void nats.closed().then(() => {
    closed = true;
    for (const abandon of waiting) abandon();
  });
  const closedError = () =>
    new DownlinkClosedError('the NATS connection closed before the server took the frames sent');
  return <T>(wait: Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      if (closed) {
        wait.catch(() => undefined);
        return reject(closedError());
      }
      const abandon = () => reject(closedError());
      waiting.add(abandon);
      wait.then(resolve, reject).finally(() => waiting.delete(abandon));
    });
}
