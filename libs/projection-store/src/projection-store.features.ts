/**
 * The projection store's contract, as ONE suite run against every adapter (embedded in
 * `*.unit.spec.ts`, MongoDB in `*.int.spec.ts`), and the runner's, against any event store
 * (in memory here, JetStream in `projection-runner.int.spec.ts`). No timed assertions: waits
 * are bounded only so that a broken store fails instead of hanging.
 */
import { BatchCreated, type EventOf } from '@tunnelkey/contracts';
import { InMemoryEventStore, noStream, type EventStore, type RecordedEvent } from '@tunnelkey/eventstore';
import { withTimeout } from '@tunnelkey/testing';
import { pino } from 'pino';
import type { ProjectionStoreHooks } from './embedded-projection-store.js';
import { InvalidQueryError, InvalidWriteError, UnindexedQueryError, UnknownCollectionError } from './errors.js';
import {
  ProjectionRunner,
  rebuildStoredProjection,
  type ProjectionRunnerOptions,
  type StoredProjection,
} from './projection-runner.js';
import type { JsonScalar, ProjectionDocument, ProjectionSchema, ProjectionStore, Write } from './projection-store.js';

export interface ProjectionStoreHarness {
  /** An empty store (its own database or namespace), calling `hooks` around commits. */
  open(hooks?: ProjectionStoreHooks): Promise<ProjectionStore>;
  /** Releases everything `open` created. */
  close(): Promise<void>;
}

export interface EventStoreHarness {
  events: EventStore;
  close(): Promise<void>;
}

export const inMemoryEvents = async (): Promise<EventStoreHarness> => ({
  events: new InMemoryEventStore({ retryBackoffMs: [5], maxHandlerAttempts: 1_000 }),
  close: async () => undefined,
});

let counter = 0;
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;
const bound = <T>(promise: Promise<T>, what: string) => withTimeout(promise, 20_000, what);
const silent = pino({ level: 'silent' });

const fleet: ProjectionSchema = {
  name: 'device-list',
  collections: {
    devices: { indexes: ['batchId', 'state', 'connection', ['batchId', 'state']] },
    batches: { indexes: [] },
  },
};

type Device = ProjectionDocument & { batchId: string; state: string; connection?: string; messages?: number };

/** Every document of every collection, for comparing two stores. */
async function dump(store: ProjectionStore, schema: ProjectionSchema): Promise<Record<string, ProjectionDocument[]>> {
  const result: Record<string, ProjectionDocument[]> = {};
  for (const collection of Object.keys(schema.collections)) {
    const all: ProjectionDocument[] = [];
    for (let skip = 0; ; skip += 1_000) {
      const page = await store.find(schema.name, collection, { skip, limit: 1_000 });
      all.push(...page.items);
      if (all.length >= page.total || page.items.length === 0) break;
    }
    result[collection] = all;
  }
  return result;
}

export function projectionStoreFeatures(
  implementation: string,
  harnessFactory: () => Promise<ProjectionStoreHarness>,
  eventsFactory: () => Promise<EventStoreHarness> = inMemoryEvents,
): void {
  describe(`ProjectionStore contract: ${implementation}`, () => {
    let h: ProjectionStoreHarness;
    let e: EventStoreHarness;
    beforeEach(async () => {
      h = await harnessFactory();
      e = await eventsFactory();
    });
    afterEach(async () => {
      await e.close();
      await h.close();
    });

    /** The fleet schema under a fresh name, defined in `store`. */
    async function fleetIn(store: ProjectionStore): Promise<string> {
      const name = unique('fleet');
      await store.define({ ...fleet, name });
      return name;
    }

    describe('writes and checkpoints', () => {
      test('an upsert creates then merges a document; get returns it with its id', async () => {
        const store = await h.open();
        const p = await fleetIn(store);
        await store.commit(p, 1, [
          {
            type: 'upsert',
            collection: 'devices',
            id: 'd1',
            set: { batchId: 'b1', state: 'imported', tags: ['a'], meta: { x: 1 } },
          },
        ]);
        await store.commit(p, 2, [
          { type: 'upsert', collection: 'devices', id: 'd1', set: { state: 'certified' }, inc: { messages: 3 } },
        ]);
        expect(await store.get(p, 'devices', 'd1')).toEqual({
          id: 'd1',
          batchId: 'b1',
          state: 'certified',
          tags: ['a'],
          meta: { x: 1 },
          messages: 3,
        });
        expect(await store.get(p, 'devices', 'nope')).toBeUndefined();
        expect(await store.checkpoint(p)).toBe(2);
        // The store keeps its own copy.
        const got = (await store.get(p, 'devices', 'd1'))!;
        (got['tags'] as string[]).push('mutated');
        expect((await store.get(p, 'devices', 'd1'))!['tags']).toEqual(['a']);
      });

      test('a redelivered event changes nothing, increments included', async () => {
        const store = await h.open();
        const p = await fleetIn(store);
        const first: Write[] = [
          {
            type: 'upsert',
            collection: 'devices',
            id: 'd1',
            set: { batchId: 'b1', state: 'connected' },
            inc: { messages: 1 },
          },
          { type: 'upsert', collection: 'batches', id: 'b1', inc: { devices: 1 } },
        ];
        expect(await store.commit(p, 10, first)).toEqual({ applied: 2, skipped: 0 });
        expect(
          await store.commit(p, 11, [{ type: 'upsert', collection: 'devices', id: 'd1', inc: { messages: 1 } }]),
        ).toEqual({ applied: 1, skipped: 0 });
        // Both redelivered, in order and out of order.
        expect(await store.commit(p, 10, first)).toEqual({ applied: 0, skipped: 2 });
        expect(
          await store.commit(p, 11, [{ type: 'upsert', collection: 'devices', id: 'd1', inc: { messages: 1 } }]),
        ).toEqual({ applied: 0, skipped: 1 });
        expect(await store.commit(p, 10, first)).toEqual({ applied: 0, skipped: 2 });
        expect(await store.get(p, 'devices', 'd1')).toMatchObject({ messages: 2, state: 'connected' });
        expect(await store.get(p, 'batches', 'b1')).toEqual({ id: 'b1', devices: 1 });
        expect(await store.checkpoint(p)).toBe(11);
      });

      test('several writes of one event to one document all apply (merged under one guard)', async () => {
        const store = await h.open();
        const p = await fleetIn(store);
        await store.commit(p, 5, [
          { type: 'upsert', collection: 'batches', id: 'b1', inc: { devices: 1 } },
          { type: 'upsert', collection: 'batches', id: 'b1', inc: { devices: 1 }, set: { name: 'fridges' } },
          { type: 'upsert', collection: 'batches', id: 'b1', unset: ['missing'] },
        ]);
        expect(await store.get(p, 'batches', 'b1')).toEqual({ id: 'b1', devices: 2, name: 'fridges' });
        await expect(
          store.commit(p, 6, [
            { type: 'upsert', collection: 'batches', id: 'b1', set: { x: 1 } },
            { type: 'delete', collection: 'batches', id: 'b1' },
          ]),
        ).rejects.toBeInstanceOf(InvalidWriteError);
      });

      test('a batch commit carries each write with its own sequence', async () => {
        const store = await h.open();
        const p = await fleetIn(store);
        const batch = [1, 2, 3].map((sequence) => ({
          type: 'upsert' as const,
          collection: 'batches',
          id: 'b1',
          inc: { devices: 1 },
          sequence,
        }));
        await store.commit(p, 3, batch);
        expect(await store.commit(p, 3, batch)).toEqual({ applied: 0, skipped: 3 });
        expect(await store.get(p, 'batches', 'b1')).toEqual({ id: 'b1', devices: 3 });
      });

      test('a deleted document stays deleted when an older event is redelivered, and comes back empty when recreated', async () => {
        const store = await h.open();
        const p = await fleetIn(store);
        await store.commit(p, 1, [
          { type: 'upsert', collection: 'devices', id: 'd1', set: { batchId: 'b1', state: 'imported', old: true } },
        ]);
        await store.commit(p, 2, [{ type: 'delete', collection: 'devices', id: 'd1' }]);
        await store.commit(p, 1, [
          { type: 'upsert', collection: 'devices', id: 'd1', set: { batchId: 'b1', state: 'imported', old: true } },
        ]);
        expect(await store.get(p, 'devices', 'd1')).toBeUndefined();
        expect((await store.find(p, 'devices', { where: { batchId: 'b1' } })).total).toBe(0);
        await store.commit(p, 3, [
          {
            type: 'upsert',
            collection: 'devices',
            id: 'd1',
            set: { batchId: 'b2', state: 'imported' },
            inc: { messages: 1 },
          },
        ]);
        expect(await store.get(p, 'devices', 'd1')).toEqual({
          id: 'd1',
          batchId: 'b2',
          state: 'imported',
          messages: 1,
        });
      });

      test('each source has its own checkpoint and its own document guard', async () => {
        const store = await h.open();
        const p = await fleetIn(store);
        await store.commit(
          p,
          100,
          [{ type: 'upsert', collection: 'devices', id: 'd1', set: { batchId: 'b1' }, inc: { messages: 1 } }],
          { source: 'registry' },
        );
        // A lower sequence from another context is news, not a redelivery.
        await store.commit(
          p,
          7,
          [{ type: 'upsert', collection: 'devices', id: 'd1', set: { connection: 'online' }, inc: { messages: 1 } }],
          { source: 'onboarding' },
        );
        await store.commit(p, 7, [{ type: 'upsert', collection: 'devices', id: 'd1', inc: { messages: 1 } }], {
          source: 'onboarding',
        });
        expect(await store.get(p, 'devices', 'd1')).toEqual({
          id: 'd1',
          batchId: 'b1',
          connection: 'online',
          messages: 2,
        });
        expect(await store.checkpoints(p)).toEqual({ registry: 100, onboarding: 7 });
        expect(await store.checkpoint(p, 'registry')).toBe(100);
        expect(await store.checkpoint(p)).toBe(0);
      });

      test('the checkpoint never moves back; an empty commit only moves it', async () => {
        const store = await h.open();
        const p = await fleetIn(store);
        await store.commit(p, 9, []);
        await store.commit(p, 4, []);
        expect(await store.checkpoint(p)).toBe(9);
        expect(await store.find(p, 'devices')).toEqual({ items: [], total: 0 });
      });

      test('a crash between the data and the checkpoint: the redelivered commit completes it without double counting', async () => {
        let crashAt: number | undefined = 3;
        const store = await h.open({
          beforeCheckpoint: (_projection, sequence) => {
            if (sequence === crashAt) throw new Error('process died after the data, before the checkpoint');
          },
        });
        const p = await fleetIn(store);
        const event = (sequence: number) => [
          { type: 'upsert' as const, collection: 'batches', id: 'b1', inc: { devices: 1 }, set: { last: sequence } },
        ];
        await store.commit(p, 1, event(1));
        await store.commit(p, 2, event(2));
        await expect(store.commit(p, 3, event(3))).rejects.toThrow('process died');
        expect(await store.checkpoint(p)).toBe(2);
        expect(await store.get(p, 'batches', 'b1')).toEqual({ id: 'b1', devices: 3, last: 3 });
        // Restart: resume after the checkpoint, so event 3 comes again.
        crashAt = undefined;
        expect(await store.commit(p, 3, event(3))).toEqual({ applied: 0, skipped: 1 });
        await store.commit(p, 4, event(4));
        expect(await store.checkpoint(p)).toBe(4);
        expect(await store.get(p, 'batches', 'b1')).toEqual({ id: 'b1', devices: 4, last: 4 });
      });

      test('bad writes and undeclared collections are typed errors, and change nothing', async () => {
        const store = await h.open();
        const p = await fleetIn(store);
        await expect(store.commit('never-defined', 1, [])).rejects.toBeInstanceOf(UnknownCollectionError);
        await expect(store.commit(p, 1, [{ type: 'upsert', collection: 'nope', id: 'x' }])).rejects.toBeInstanceOf(
          UnknownCollectionError,
        );
        await expect(
          store.commit(p, 1, [{ type: 'upsert', collection: 'devices', id: 'x', set: { _seq: 1 } }]),
        ).rejects.toMatchObject({ name: 'InvalidWriteError', code: 'INVALID_WRITE' });
        await expect(
          store.commit(p, 1, [{ type: 'upsert', collection: 'devices', id: 'x', set: { 'a.b': 1 } }]),
        ).rejects.toBeInstanceOf(InvalidWriteError);
        await expect(
          store.commit(p, 1, [{ type: 'upsert', collection: 'devices', id: 'x', inc: { n: Number.NaN } }]),
        ).rejects.toBeInstanceOf(InvalidWriteError);
        await expect(store.get('never-defined', 'devices', 'x')).rejects.toBeInstanceOf(UnknownCollectionError);
        expect(await store.checkpoint(p)).toBe(0);
        expect((await store.find(p, 'devices')).total).toBe(0);
      });

      test('reset deletes the data and the checkpoints; define again is harmless', async () => {
        const store = await h.open();
        const p = await fleetIn(store);
        await store.commit(
          p,
          1,
          [{ type: 'upsert', collection: 'devices', id: 'd1', set: { batchId: 'b1', state: 's' } }],
          { source: 'registry' },
        );
        await store.define({ ...fleet, name: p });
        expect(await store.get(p, 'devices', 'd1')).toBeDefined();
        await store.reset(p);
        expect(await store.get(p, 'devices', 'd1')).toBeUndefined();
        expect(await store.checkpoints(p)).toEqual({});
        // A reset store accepts the old sequences again (it is a rebuild).
        await store.commit(
          p,
          1,
          [{ type: 'upsert', collection: 'devices', id: 'd1', set: { batchId: 'b1', state: 's' } }],
          { source: 'registry' },
        );
        expect(await store.get(p, 'devices', 'd1')).toEqual({ id: 'd1', batchId: 'b1', state: 's' });
      });
    });

    describe('queries', () => {
      const states = ['imported', 'verified', 'certified', 'onboarded', 'revoked'];
      async function loadDevices(store: ProjectionStore, n: number): Promise<{ p: string; devices: Device[] }> {
        const p = await fleetIn(store);
        const devices: Device[] = [];
        for (let i = 0; i < n; i++) {
          const device: Device = {
            id: `d-${String(i).padStart(5, '0')}`,
            batchId: `b${i % 3}`,
            state: states[(i * 7) % states.length]!,
            messages: (i * 13) % 17,
          };
          if (i % 4 !== 0) device.connection = i % 2 ? 'online' : 'offline';
          devices.push(device);
        }
        // Batches of 100 events: one commit each, one write per event with its own sequence.
        for (let i = 0; i < n; i += 100) {
          const writes = devices.slice(i, i + 100).map(({ id, ...set }, j) => ({
            type: 'upsert' as const,
            collection: 'devices',
            id,
            set,
            sequence: i + j + 1,
          }));
          await store.commit(p, Math.min(i + 100, n), writes);
        }
        return { p, devices };
      }

      const byFields =
        (fields: { field: keyof Device; direction: 1 | -1 }[]) =>
        (a: Device, b: Device): number => {
          for (const { field, direction } of [...fields, { field: 'id' as const, direction: 1 as const }]) {
            const x = a[field] ?? null;
            const y = b[field] ?? null;
            if (x === y) continue;
            if (x === null) return -direction;
            if (y === null) return direction;
            return (x < y ? -1 : 1) * direction;
          }
          return 0;
        };

      test('filters by equality on indexed fields, sorts, pages with skip/limit and counts the total', async () => {
        const store = await h.open();
        const { p, devices } = await loadDevices(store, 1_000);
        const expected = devices
          .filter((d) => d.batchId === 'b1' && d.connection === 'online')
          .sort(byFields([{ field: 'state', direction: -1 }]));
        const pages: Device[] = [];
        for (let skip = 0; skip < expected.length; skip += 40) {
          const page = await store.find<Device>(p, 'devices', {
            where: { batchId: 'b1', connection: 'online' },
            sort: [{ field: 'state', direction: 'desc' }],
            skip,
            limit: 40,
          });
          expect(page.total).toBe(expected.length);
          pages.push(...page.items);
        }
        expect(pages).toEqual(expected);
        expect(expected.length).toBeGreaterThan(100);
      });

      test('default order is by id; null filters match missing fields; past the end is an empty page', async () => {
        const store = await h.open();
        const { p, devices } = await loadDevices(store, 300);
        const first = await store.find<Device>(p, 'devices', { limit: 5 });
        expect(first).toEqual({ items: devices.slice(0, 5), total: 300 });
        const unconnected = await store.find<Device>(p, 'devices', { where: { connection: null }, limit: 1_000 });
        expect(unconnected.items.map((d) => d.id)).toEqual(
          devices.filter((d) => d.connection === undefined).map((d) => d.id),
        );
        expect(await store.find(p, 'devices', { skip: 10_000 })).toEqual({ items: [], total: 300 });
        const byId = await store.find<Device>(p, 'devices', { where: { id: 'd-00007' } });
        expect(byId).toEqual({ items: [devices[7]], total: 1 });
        // Missing values sort first ascending, like MongoDB.
        const byConnection = await store.find<Device>(p, 'devices', { sort: [{ field: 'connection' }], limit: 1_000 });
        expect(byConnection.items).toEqual([...devices].sort(byFields([{ field: 'connection', direction: 1 }])));
      });

      test('select: only the fields asked for (and id), ids alone with [], in the same order and total', async () => {
        const store = await h.open();
        const { p, devices } = await loadDevices(store, 120);
        const query = { where: { batchId: 'b1' }, sort: [{ field: 'state', direction: 'desc' as const }], limit: 30 };
        const full = await store.find<Device>(p, 'devices', query);
        const ids = await store.find(p, 'devices', { ...query, select: [] });
        expect(ids).toEqual({ items: full.items.map(({ id }) => ({ id })), total: full.total });
        const some = await store.find(p, 'devices', { ...query, select: ['state', 'connection', 'id'] });
        expect(some.items).toEqual(
          full.items.map(({ id, state, connection }) => ({ id, state, ...(connection ? { connection } : {}) })),
        );
        expect(devices.length).toBe(120);
        await expect(store.find(p, 'devices', { select: ['_seq'] })).rejects.toBeInstanceOf(InvalidQueryError);
      });

      test('filters by membership ({ in: [...] }): pages, totals and counts, a missing field with null, ids too', async () => {
        const store = await h.open();
        const { p, devices } = await loadDevices(store, 300);
        const expected = devices.filter((d) => ['b0', 'b2'].includes(d.batchId) && d.connection !== 'offline');
        const pages: Device[] = [];
        for (let skip = 0; skip < expected.length; skip += 50) {
          const page = await store.find<Device>(p, 'devices', {
            where: { batchId: { in: ['b0', 'b2', 'b9'] }, connection: { in: ['online', null] } },
            skip,
            limit: 50,
          });
          expect(page.total).toBe(expected.length);
          pages.push(...page.items);
        }
        expect(pages).toEqual(expected);
        const counted = await store.countBy(p, 'devices', {
          by: ['batchId'],
          where: { batchId: { in: ['b1', 'b2'] } },
        });
        expect(counted).toEqual([
          { key: { batchId: 'b1' }, count: devices.filter((d) => d.batchId === 'b1').length },
          { key: { batchId: 'b2' }, count: devices.filter((d) => d.batchId === 'b2').length },
        ]);
        expect(await store.find(p, 'devices', { where: { batchId: { in: [] } } })).toEqual({ items: [], total: 0 });
        const byIds = await store.find<Device>(p, 'devices', { where: { id: { in: ['d-00002', 'd-00001', 'x'] } } });
        expect(byIds).toEqual({ items: [devices[1], devices[2]], total: 2 });
        await expect(
          store.find(p, 'devices', { where: { batchId: { in: [{ nested: 1 }] } as never } }),
        ).rejects.toBeInstanceOf(InvalidQueryError);
      });

      test('queries on undeclared fields and out-of-bounds pages are refused', async () => {
        const store = await h.open();
        const p = await fleetIn(store);
        await expect(store.find(p, 'devices', { where: { messages: 1 } })).rejects.toBeInstanceOf(UnindexedQueryError);
        await expect(store.find(p, 'devices', { sort: [{ field: 'messages' }] })).rejects.toMatchObject({
          code: 'UNINDEXED_QUERY',
          context: { field: 'messages' },
        });
        await expect(store.countBy(p, 'devices', { by: ['messages'] })).rejects.toBeInstanceOf(UnindexedQueryError);
        await expect(store.find(p, 'devices', { limit: 0 })).rejects.toBeInstanceOf(InvalidQueryError);
        await expect(store.find(p, 'devices', { limit: 1_001 })).rejects.toBeInstanceOf(InvalidQueryError);
        await expect(store.find(p, 'devices', { skip: -1 })).rejects.toBeInstanceOf(InvalidQueryError);
        await expect(store.find(p, 'nope', {})).rejects.toBeInstanceOf(UnknownCollectionError);
      });

      test('counts grouped by fields (devices per batch and state), optionally filtered', async () => {
        const store = await h.open();
        const { p, devices } = await loadDevices(store, 500);
        const expected = new Map<string, number>();
        for (const d of devices)
          expected.set(`${d.batchId}|${d.state}`, (expected.get(`${d.batchId}|${d.state}`) ?? 0) + 1);
        const groups = await store.countBy(p, 'devices', { by: ['batchId', 'state'] });
        expect(groups).toEqual(
          [...expected.entries()]
            .map(([k, count]) => ({
              key: { batchId: k.split('|')[0]!, state: k.split('|')[1]! } as Record<string, JsonScalar>,
              count,
            }))
            .sort((a, b) =>
              `${a.key['batchId']}|${a.key['state']}` < `${b.key['batchId']}|${b.key['state']}` ? -1 : 1,
            ),
        );
        const inB2 = await store.countBy(p, 'devices', { by: ['connection'], where: { batchId: 'b2' } });
        const b2 = devices.filter((d) => d.batchId === 'b2');
        expect(inB2).toEqual([
          { key: { connection: null }, count: b2.filter((d) => d.connection === undefined).length },
          { key: { connection: 'offline' }, count: b2.filter((d) => d.connection === 'offline').length },
          { key: { connection: 'online' }, count: b2.filter((d) => d.connection === 'online').length },
        ]);
      });

      test('10,000 devices: a filtered, sorted page and its total', async () => {
        const store = await h.open();
        const { p, devices } = await loadDevices(store, 10_000);
        const page = await store.find<Device>(p, 'devices', {
          where: { batchId: 'b0', state: 'certified' },
          sort: [{ field: 'state' }],
          skip: 100,
          limit: 50,
        });
        const expected = devices.filter((d) => d.batchId === 'b0' && d.state === 'certified');
        expect(page).toEqual({ items: expected.slice(100, 150), total: expected.length });
        expect((await store.countBy(p, 'devices', { by: ['state'] })).reduce((n, g) => n + g.count, 0)).toBe(10_000);
      });
    });

    describe('a projection fed by the event log', () => {
      type Batch = EventOf<typeof BatchCreated>;
      /** Batches per policy: an increment per event, so any double application shows. */
      const batchesByPolicy = (name = unique('batches-by-policy')): StoredProjection => ({
        name,
        collections: { batches: { indexes: ['policyId'] }, policies: { indexes: [] }, totals: { indexes: [] } },
        sources: [{ context: 'registry', aggregate: 'batch' }],
        evolve: (recorded: RecordedEvent): Write[] => {
          if (recorded.event.type !== 'BatchCreated') return [];
          const { data } = recorded.event as Batch;
          return [
            {
              type: 'upsert',
              collection: 'batches',
              id: data.batchId,
              set: { policyId: data.policyId, name: data.name, sequence: recorded.sequence },
            },
            {
              type: 'upsert',
              collection: 'policies',
              id: data.policyId,
              inc: { batches: 1, devices: data.expectedSize },
            },
            { type: 'upsert', collection: 'totals', id: 'all', inc: { events: 1 } },
          ];
        },
      });

      const startRunner = (
        store: ProjectionStore,
        projection: StoredProjection,
        options: Partial<ProjectionRunnerOptions> = {},
      ) => ProjectionRunner.start({ store, events: e.events, projection, logger: silent, ...options });

      /** Every batch this test created: what the projection must count, each exactly once. */
      let created: { policyId: string; size: number }[] = [];
      beforeEach(() => (created = []));

      async function createBatches(n: number, policies = 3): Promise<number[]> {
        const sequences: number[] = [];
        for (let j = 0; j < n; j++) {
          const i = created.length;
          created.push({ policyId: `policy-${i % policies}`, size: i + 1 });
          const batchId = unique('b');
          const event: Batch = {
            type: 'BatchCreated',
            version: 1,
            id: crypto.randomUUID(),
            aggregateId: batchId,
            occurredAt: '2026-01-02T03:04:05.000Z',
            causationId: unique('cmd'),
            correlationId: 'corr-1',
            data: {
              batchId,
              name: `batch ${i}`,
              policyId: `policy-${i % policies}`,
              ownerId: 'owner-1',
              expectedSize: i + 1,
            },
          };
          const appended = await e.events.append({ context: 'registry', aggregate: 'batch', id: batchId }, [event], {
            expectedVersion: noStream,
            messageId: unique('m'),
          });
          sequences.push(...appended.sequences);
        }
        return sequences;
      }

      async function expectExactlyOnce(store: ProjectionStore, projection: StoredProjection, n: number): Promise<void> {
        expect(created).toHaveLength(n);
        expect(await store.get(projection.name, 'totals', 'all')).toEqual({ id: 'all', events: n });
        const perPolicy = await store.find(projection.name, 'policies', { limit: 1_000 });
        const policies = new Map<string, { id: string; batches: number; devices: number }>();
        for (const { policyId, size } of created) {
          const policy = policies.get(policyId) ?? { id: policyId, batches: 0, devices: 0 };
          policy.batches++;
          policy.devices += size;
          policies.set(policyId, policy);
        }
        const expected = [...policies.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
        expect(perPolicy).toEqual({ items: expected, total: expected.length });
        expect((await store.find(projection.name, 'batches')).total).toBe(n);
      }

      test('follows the log live and a rebuild into an empty store gives the same result', async () => {
        const store = await h.open();
        const projection = batchesByPolicy();
        await createBatches(5);
        const runner = await bound(startRunner(store, projection), 'start');
        const more = await createBatches(7).then((s) => s.at(-1)!);
        await bound(runner.caughtUp(), 'caughtUp');
        await runner.stop();
        expect(runner.checkpoints).toEqual({ 'registry:batch': more });
        await expectExactlyOnce(store, projection, 12);

        const empty = await h.open();
        expect(await rebuildStoredProjection(empty, e.events, projection, { batchSize: 5 })).toEqual({
          'registry:batch': more,
        });
        expect(await dump(empty, projection)).toEqual(await dump(store, projection));
        expect(await empty.checkpoints(projection.name)).toEqual(await store.checkpoints(projection.name));

        // A rebuild in place (reset + replay) too.
        await rebuildStoredProjection(store, e.events, projection);
        await expectExactlyOnce(store, projection, 12);
      });

      test('stopped mid-stream (crash between data and checkpoint) and restarted: every event applied exactly once', async () => {
        const sequences = await createBatches(10);
        // The first commit of a sequence above `crashAbove` dies between its data and its checkpoint.
        let crashAbove: number | undefined = sequences[4]!;
        let crashed = () => undefined as void;
        const store = await h.open({
          beforeCheckpoint: (_projection, sequence) => {
            if (crashAbove !== undefined && sequence > crashAbove) {
              crashAbove = undefined;
              crashed();
              throw new Error('process died after the data, before the checkpoint');
            }
          },
        });
        const projection = batchesByPolicy();
        // While catching up, one event per commit, so that the crash lands mid-stream.
        await expect(startRunner(store, projection, { batchSize: 1 })).rejects.toThrow('process died');
        expect(await store.checkpoint(projection.name, 'registry:batch')).toBe(sequences[4]);

        // Restarted, then dying again while following live; stopped right there.
        const runner = await bound(startRunner(store, projection), 'restart');
        const liveCrash = new Promise<void>((resolve) => (crashed = resolve));
        crashAbove = sequences.at(-1)! + 2;
        await createBatches(5);
        await bound(liveCrash, 'the live crash');
        await runner.stop();

        const restarted = await bound(startRunner(store, projection), 'second restart');
        const after = await createBatches(4);
        await bound(restarted.caughtUp(), 'caughtUp after restart');
        await restarted.stop();
        expect(await store.checkpoint(projection.name, 'registry:batch')).toBe(after.at(-1));
        await expectExactlyOnce(store, projection, 19);
      });

      test('a live commit that fails is retried until stored: not ready meanwhile, every event once', async () => {
        let failures = 0;
        let failing = false;
        const readyWhileFailing: boolean[] = [];
        const started: { runner?: ProjectionRunner } = {};
        const store = await h.open({
          beforeCheckpoint: () => {
            if (!failing) return;
            if (failures > 0) readyWhileFailing.push(started.runner!.ready);
            if (++failures === 3) failing = false;
            throw new Error('the store is unreachable');
          },
        });
        const projection = batchesByPolicy();
        await createBatches(3);
        const runner = await bound(startRunner(store, projection, { retryBackoffMs: [5] }), 'start');
        started.runner = runner;
        expect(runner.ready).toBe(true);
        failing = true;
        const [live] = await createBatches(1);
        await createBatches(2);
        await bound(runner.caughtUp(), 'caughtUp through the failed commits');
        expect(readyWhileFailing).toEqual([false, false]);
        expect(runner.ready).toBe(true);
        expect(runner.checkpoints['registry:batch']).toBeGreaterThan(live!);
        await runner.stop();
        await expectExactlyOnce(store, projection, 6);
      });

      test('a runner stopped while following live resumes where it stopped, on the same store', async () => {
        const store = await h.open();
        const projection = batchesByPolicy();
        const first = await bound(startRunner(store, projection), 'start');
        await createBatches(6);
        await bound(first.caughtUp(), 'caughtUp');
        await first.stop();
        await createBatches(4);
        const second = await bound(startRunner(store, projection), 'restart');
        await createBatches(3);
        await bound(second.caughtUp(), 'caughtUp after restart');
        await second.stop();
        await expectExactlyOnce(store, projection, 13);
      });

      test('a new process with an empty store rebuilds from the log (embedded start)', async () => {
        const projection = batchesByPolicy();
        const firstStore = await h.open();
        const first = await bound(startRunner(firstStore, projection), 'start');
        await createBatches(8);
        await bound(first.caughtUp(), 'caughtUp');
        await first.stop();
        // The process restarts: its in-memory data is gone, the log is not.
        const fresh = await h.open();
        const second = await bound(startRunner(fresh, projection), 'restart');
        await createBatches(2);
        await bound(second.caughtUp(), 'caughtUp');
        await second.stop();
        await expectExactlyOnce(fresh, projection, 10);
      });
    });
  });
}
