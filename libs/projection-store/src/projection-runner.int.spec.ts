import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import { natsFixture } from '@tunnelkey/testing';
import { pino } from 'pino';
import { EmbeddedProjectionStore } from './embedded-projection-store.js';
import { projectionStoreFeatures } from './projection-store.features.js';

// Real NATS on NATS_URL (default nats://127.0.0.1:4222) feeding projections through durable
// JetStream consumers; every test gets its own namespace (its own REGISTRY stream).
const nats = natsFixture({ prefix: 'ps' });
beforeAll(() => nats.setup());
afterAll(() => nats.teardown());

projectionStoreFeatures(
  'embedded, fed by JetStream',
  async () => ({ open: async (hooks) => new EmbeddedProjectionStore(hooks), close: async () => undefined }),
  async () => {
    // A short ack_wait: a delivery caught by stop() during a nak-with-delay retry comes back after
    // ack_wait (default 30 s); the crash test restarts right after such a stop.
    const events = new JetStreamEventStore(nats.nc, { namespace: nats.subNamespace(), logger: pino({ level: 'silent' }), retryBackoffMs: [20], ackWaitMs: 1_000, maxHandlerAttempts: 1_000 });
    await events.ensureStreams(['registry']);
    return { events, close: async () => events.close() };
  },
);
