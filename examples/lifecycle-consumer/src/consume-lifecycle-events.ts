/**
 * Another team's consumer of tunnelkey's device lifecycle events, complete: a durable JetStream
 * consumer on the registry's device subjects, each message read with readPublicEvent (validated
 * against its contract, upcast to today's version; internal events and anything invalid skipped)
 * and handed on as a CloudEvent. `consumeLifecycleEvents` is the whole of it. Run as a script
 * (compiled with tsc, or with `npx tsx`), it prints each event as one JSON line; NATS_URL and
 * TUNNELKEY_NAMESPACE say where.
 */
import { jetstream, jetstreamManager, AckPolicy } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { readPublicEvent, streamName, toCloudEvent, type TunnelkeyCloudEvent } from '@tunnelkey/contracts';

export async function consumeLifecycleEvents(
  nc: NatsConnection,
  onEvent: (event: TunnelkeyCloudEvent) => void,
  { namespace = '', durable = 'my-team-lifecycle' } = {},
): Promise<{ stop(): void }> {
  const stream = streamName('registry', namespace);
  const filter = `${namespace ? `${namespace}.` : ''}registry.device.>`;
  await (
    await jetstreamManager(nc)
  ).consumers.add(stream, { durable_name: durable, filter_subject: filter, ack_policy: AckPolicy.Explicit });
  const messages = await (await jetstream(nc).consumers.get(stream, durable)).consume();
  void (async () => {
    for await (const m of messages) {
      const read = readPublicEvent(m.data);
      if (read.kind === 'public') onEvent(toCloudEvent(read.event));
      m.ack(); // internal and invalid messages are acknowledged too: they are not for us
    }
  })();
  return { stop: () => void messages.stop() };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' });
  await consumeLifecycleEvents(nc, (event) => console.log(JSON.stringify(event)), {
    namespace: process.env.TUNNELKEY_NAMESPACE ?? '',
  });
}
