import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { streamName, type EventEnvelope } from '@tunnelkey/contracts';
import { noStream } from '@tunnelkey/eventstore';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import { EmbeddedProjectionStore, rebuildStoredProjection } from '@tunnelkey/projection-store';
import { natsFixture, waitFor } from '@tunnelkey/testing';
import { pino } from 'pino';
import { InMemoryTokenStore } from '../auth/token-store.js';
import { catalogProjection } from './catalog.view.js';
import { fleetProjection } from './fleet.view.js';
import { batchProgress } from '../queries/batch-progress/batch-progress.query.js';
import { listDevices } from '../queries/device-list/device-list.query.js';
import { startGateway, type RunningGateway } from '../start-gateway.js';

// Real NATS on NATS_URL: the gateway stopped mid-stream and restarted against the same projection
// store resumes at its stored checkpoints (its only position: no consumer is left on the bus),
// without loss or double counting, and a rebuild from the log gives the same answers.
const nats = natsFixture({ prefix: 'gwrm' });
const logger = pino({ level: 'silent' });
const adminToken = 'restart-test-admin-token-0123456789';
const digest = 'b'.repeat(64);

const envelope = (type: string, aggregateId: string, data: Record<string, unknown>): EventEnvelope => ({
  type,
  version: 1,
  id: randomUUID(),
  aggregateId,
  occurredAt: new Date().toISOString(),
  causationId: randomUUID(),
  correlationId: randomUUID(),
  data,
});

describe('gateway read models on the projection store, restarted mid-stream', () => {
  beforeAll(() => nats.setup());
  afterAll(() => nats.teardown());

  it('resumes at the stored checkpoints: counts stay exact, and equal a rebuild from the log', async () => {
    const namespace = nats.subNamespace();
    const events = new JetStreamEventStore(nats.nc, { namespace, logger });
    await events.ensureStreams(['registry', 'ca', 'onboarding']);
    const store = new EmbeddedProjectionStore();
    const tokenStore = new InMemoryTokenStore();
    const options = { nats: nats.nc, namespace, httpPort: 0, adminToken, logger, nestLogger: false as const };
    const start = () => startGateway({ ...options, tokenStore, projectionStore: store });
    const batchId = 'restart-batch';
    await events.append(
      { context: 'registry', aggregate: 'batch', id: batchId },
      [
        envelope('BatchCreated', batchId, {
          batchId,
          name: 'restart',
          policyId: 'p1',
          ownerId: 'acme',
          expectedSize: 400,
        }),
      ],
      { expectedVersion: noStream, messageId: randomUUID() },
    );
    const importDevices = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const deviceId = `dev-${String(i).padStart(4, '0')}`;
        await events.append(
          { context: 'registry', aggregate: 'device', id: deviceId },
          [
            envelope('DeviceIdentityImported', deviceId, {
              deviceId,
              batchId,
              importId: 'i1',
              source: 'json',
              enrolmentPublicKey: 'AAAA',
              enrolmentKeyDigest: digest,
            }),
          ],
          { expectedVersion: noStream, messageId: randomUUID() },
        );
      }
    };

    let gateway: RunningGateway = await start();
    try {
      // Stop while events are still arriving, then import more while the gateway is down.
      const writing = importDevices(0, 200);
      await waitFor(async () => (await store.checkpoint('fleet', 'registry')) > 20, {
        description: 'some events applied',
      });
      await gateway.stop();
      await writing;
      // Its position lives with the data: the gateway leaves no durable consumer behind.
      const jsm = await jetstreamManager(nats.nc);
      for (const context of ['registry', 'ca', 'onboarding'] as const) {
        const consumers = await jsm.consumers.list(streamName(context, namespace)).next();
        expect(consumers.filter((consumer) => consumer.config.durable_name)).toEqual([]);
      }
      await importDevices(200, 400);
      expect(await store.checkpoint('fleet', 'registry')).toBeLessThan(401);

      gateway = await start();
      const progress = await batchProgress(gateway.readModels.store, batchId);
      expect(progress).toMatchObject({ devices: 400, counts: { Imported: 400 } });
      expect(await store.checkpoint('fleet', 'registry')).toBe(401);
      const live = await listDevices(store, { batchId, limit: 500, offset: 0 });
      expect(live.items.map((d) => d.deviceId)).toEqual(
        Array.from({ length: 400 }, (_, i) => `dev-${String(i).padStart(4, '0')}`),
      );

      const rebuilt = new EmbeddedProjectionStore();
      for (const projection of [fleetProjection, catalogProjection])
        await rebuildStoredProjection(rebuilt, events, projection);
      expect(await batchProgress(rebuilt, batchId)).toEqual(progress);
      expect(await listDevices(rebuilt, { batchId, limit: 500, offset: 0 })).toEqual(live);
    } finally {
      await gateway.stop();
      await events.close();
    }
  }, 120_000);
});
