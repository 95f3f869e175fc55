import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { contextSubject, streamName, validateEvent, type BoundedContext } from '@tunnelkey/contracts';
import { describeError, type RecordedEvent } from '@tunnelkey/eventstore';
import type { Logger } from 'pino';

export interface ContextTail {
  stop(): Promise<void>;
}

const decoder = new TextDecoder();

/**
 * Follows a context's stream from a sequence with an ordered consumer: ephemeral, in order,
 * flow-controlled, re-created by the client after a gap. For in-process views rebuilt at every
 * start, which need no durable position; the event store's durable subscriptions keep one event
 * in flight, which caps a view at a few thousand events per second on a small machine.
 * Events are validated against their contract like the store's own reads; invalid ones are
 * skipped with a log line (the store's durable consumers park them).
 */
export async function tailContext(
  nats: NatsConnection,
  options: { context: BoundedContext; namespace: string; fromSequence: number; logger: Logger },
  handler: (recorded: RecordedEvent) => void,
): Promise<ContextTail> {
  const { context, namespace, fromSequence, logger } = options;
  const stream = streamName(context, namespace);
  const consumer = await jetstream(nats).consumers.get(stream, {
    filter_subjects: `${contextSubject(context, namespace)}.>`,
    ...(fromSequence > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: fromSequence } : {}),
  });
  const messages = await consumer.consume({ max_messages: 1_000, threshold_messages: 500 });
  const loop = (async () => {
    for await (const msg of messages) {
      let recorded: RecordedEvent;
      try {
        recorded = { event: validateEvent(JSON.parse(decoder.decode(msg.data))), sequence: msg.seq, subject: msg.subject };
      } catch (error) {
        logger.warn({ event: 'registry.view_event_skipped', stream, sequence: msg.seq, error: describeError(error) }, 'invalid event skipped by the read model');
        continue;
      }
      handler(recorded);
    }
  })().catch((error: unknown) => logger.error({ event: 'registry.view_tail_failed', stream, error: describeError(error) }, 'read model stopped following the log'));
  return {
    async stop() {
      messages.stop();
      await loop;
      await consumer.delete().catch(() => undefined);
    },
  };
}
