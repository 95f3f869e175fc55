import { randomBytes } from 'node:crypto';
import { testServer } from '@tunnelkey/testing';
import { MongoProjectionStore } from './mongodb-projection-store.js';
import { projectionStoreFeatures } from './projection-store.features.js';

// A real MongoDB: started by testcontainers where a Docker engine answers, else the one on
// MONGO_URL. This CI has neither a Docker engine nor a MongoDB server, so without MONGO_URL the
// suite is reported as skipped, with the reason (printed by testServer), never faked.
const server = await testServer('mongodb');
const url = server.url;
afterAll(() => server.stop());

if (url) {
  console.log(`MongoDB projection-store suite on ${server.choice.via} (a database per store, dropped afterwards)`);
  projectionStoreFeatures('MongoDB', async () => {
    const opened: MongoProjectionStore[] = [];
    return {
      open: async (hooks) => {
        const store = await MongoProjectionStore.connect(url, {
          database: `tk_ps_${randomBytes(6).toString('hex')}`,
          hooks,
        });
        opened.push(store);
        return store;
      },
      close: async () => {
        for (const store of opened) {
          await store.dropDatabase();
          await store.close();
        }
      },
    };
  });
} else {
  const { reason } = server.choice;
  const line = `MongoDB projection-store suite SKIPPED: ${reason}. Set MONGO_URL=mongodb://host:27017 to run it.`;
  // Jest drops the console output of a file whose tests are all skipped: write to stderr instead.
  process.stderr.write(`${line}\n`);
  describe.skip(`ProjectionStore contract: MongoDB (skipped: ${reason})`, () => {
    test('runs the shared projection-store suite against MongoDB', () => undefined);
  });
}
