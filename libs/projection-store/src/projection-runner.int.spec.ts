import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import { natsFixture } from '@tunnelkey/testing';
import { pino } from 'pino';
import { EmbeddedProjectionStore } from './embedded-projection-store.js';
import { projectionStoreFeatures } from './projection-store.features.js';

// Real NATS on NATS_URL (default nats://127.0.0.1:4222) feeding projections through the runner's
// LiveFeed (replay, then follow; no durable consumer); every test gets its own namespace.
const nats = natsFixture({ prefix: 'ps' });
beforeAll(() => nats.setup());
afterAll(() => nats.teardown());

projectionStoreFeatures(
  'embedded, fed by JetStream',
  async () => ({ open: async (hooks) => new EmbeddedProjectionStore(hooks), close: async () => undefined }),
  async () => {
    const logger = pino({ level: 'silent' });
    const events = new JetStreamEventStore(nats.nc, { namespace: nats.subNamespace(), logger });
    await events.ensureStreams(['registry']);
    return { events, close: async () => events.close() };
  },
);
