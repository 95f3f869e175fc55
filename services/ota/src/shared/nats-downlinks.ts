/**
 * The DownlinkSender on NATS: signed envelopes through the device-protocol's DownlinkPublisher,
 * firmware-chunk frames published as they are. Frames are what fills the bus during a rollout
 * (a 1 MiB image to a thousand devices is a GiB), so they are paced: after every `flushBytes`
 * published, senders wait for a flush (the server has taken everything before it). Without it the
 * client's buffer and the server's pending bytes for the fleet's connection grow without bound,
 * and the server cuts a slow consumer off: every device then stalls and asks again.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { firmwareChunkFrameSubject } from '@tunnelkey/contracts';
import { DownlinkPublisher, type PlatformKey } from '@tunnelkey/device-protocol';
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
      flushing = nats.flush().finally(() => (flushing = undefined));
      await flushing;
    },
  };
}
