import { jetstream } from '@nats-io/jetstream';
import { aggregateSubject } from '@tunnelkey/contracts';
import { natsFixture } from '@tunnelkey/testing';
import { pino } from 'pino';
import { eventStoreFeatures } from '@tunnelkey/eventstore/features';
import { JetStreamEventStore } from './jetstream-event-store.js';

// Real NATS on NATS_URL (default nats://127.0.0.1:4222); every test gets its own namespace.
const nats = natsFixture({ prefix: 'es' });
beforeAll(() => nats.setup());
afterAll(() => nats.teardown());

eventStoreFeatures('JetStream', async () => {
  const namespace = nats.subNamespace();
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  // A stopped subscriber's outstanding pull on NATS 2.9 can hold one redelivery until ack_wait
  // (production default 30 s); a short ack_wait keeps the restart tests quick on a busy machine.
  const store = new JetStreamEventStore(nats.nc, {
    namespace,
    logger,
    retryBackoffMs: [20],
    maxHandlerAttempts: 3,
    ackWaitMs: 5_000,
  });
  await store.ensureStreams(['registry']);
  const js = jetstream(nats.nc);
  return {
    store,
    parked: store.parked,
    snapshots: await store.snapshotStore(),
    // A foreign writer: a raw publish, no headers, no checks.
    writeRaw: async (stream, payload) =>
      void (await js.publish(aggregateSubject(stream.context, stream.aggregate, stream.id, namespace), payload)),
    logs,
    close: async () => store.close(),
  };
});
