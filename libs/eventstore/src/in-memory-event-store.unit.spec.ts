import { pino } from 'pino';
import { eventStoreFeatures } from './event-store.features.js';
import { InMemoryEventStore } from './in-memory-event-store.js';

eventStoreFeatures('in memory', async () => {
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const store = new InMemoryEventStore({ logger, retryBackoffMs: [10], maxHandlerAttempts: 3 });
  return {
    store,
    parked: store.parked,
    snapshots: await store.snapshotStore(),
    writeRaw: async (stream, payload) => void store.injectUnchecked(stream, payload),
    logs,
    close: async () => undefined,
  };
});
