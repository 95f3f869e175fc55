import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { MongoProjectionStore } from './mongodb-projection-store.js';
import { projectionStoreFeatures } from './projection-store.features.js';

// Real MongoDB on MONGO_URL. There is no MongoDB server on the CI machines and testcontainers is not
// installed, so without MONGO_URL this suite is reported as skipped, with the reason, never faked.
const url = process.env['MONGO_URL']?.trim();
const dockerEngine = Boolean(process.env['DOCKER_HOST']) || existsSync('/var/run/docker.sock');

if (url) {
  console.log('MongoDB projection-store suite: using MONGO_URL (a database per store, dropped afterwards)');
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
  const reason = dockerEngine
    ? 'MONGO_URL is not set; a Docker engine is present but testcontainers is not installed'
    : 'MONGO_URL is not set and there is no Docker engine (no MongoDB server on this machine)';
  const line = `MongoDB projection-store suite SKIPPED: ${reason}. Set MONGO_URL=mongodb://host:27017 to run it.`;
  // Jest drops the console output of a file whose tests are all skipped: write to stderr instead.
  process.stderr.write(`${line}\n`);
  describe.skip(`ProjectionStore contract: MongoDB (skipped: ${reason})`, () => {
    test('runs the shared projection-store suite against MongoDB', () => undefined);
  });
}
