import { EmbeddedProjectionStore } from './embedded-projection-store.js';
import { projectionStoreFeatures } from './projection-store.features.js';

projectionStoreFeatures('embedded', async () => ({
  open: async (hooks) => new EmbeddedProjectionStore(hooks),
  close: async () => undefined,
}));

// The embedded store keeps a filter's sorted ids until the indexed data changes (issue 19: a page
// of 10,000 devices sorted them again per request). These pin what must still be seen at once.
describe('embedded: sorted results kept between finds', () => {
  const schema = { name: 'cache', collections: { devices: { indexes: ['batchId', 'seq'] } } };
  const page = (store: EmbeddedProjectionStore, where: Record<string, string> = {}) =>
    store.find('cache', 'devices', { where, sort: [{ field: 'seq', direction: 'desc' }] });
  const ids = async (store: EmbeddedProjectionStore, where: Record<string, string> = {}) =>
    (await page(store, where)).items.map((d) => d.id);

  async function storeWithThree(): Promise<EmbeddedProjectionStore> {
    const store = new EmbeddedProjectionStore();
    await store.define(schema);
    await store.commit('cache', 1, [
      { type: 'upsert', collection: 'devices', id: 'a', set: { batchId: 'b1', seq: 1, note: 'x' } },
      { type: 'upsert', collection: 'devices', id: 'b', set: { batchId: 'b1', seq: 2, note: 'x' } },
      { type: 'upsert', collection: 'devices', id: 'c', set: { batchId: 'b2', seq: 3, note: 'x' } },
    ]);
    return store;
  }

  it('sees a new document, a deleted one and a changed sort field at the next find', async () => {
    const store = await storeWithThree();
    expect(await ids(store)).toEqual(['c', 'b', 'a']);
    await store.commit('cache', 2, [
      { type: 'upsert', collection: 'devices', id: 'd', set: { batchId: 'b1', seq: 0 } },
    ]);
    expect(await ids(store)).toEqual(['c', 'b', 'a', 'd']);
    await store.commit('cache', 3, [{ type: 'delete', collection: 'devices', id: 'b' }]);
    expect(await ids(store)).toEqual(['c', 'a', 'd']);
    await store.commit('cache', 4, [{ type: 'upsert', collection: 'devices', id: 'd', set: { seq: 9 } }]);
    expect(await ids(store)).toEqual(['d', 'c', 'a']);
  });

  it('sees a changed filter field, and an unindexed field changed in place', async () => {
    const store = await storeWithThree();
    expect(await ids(store, { batchId: 'b1' })).toEqual(['b', 'a']);
    await store.commit('cache', 2, [{ type: 'upsert', collection: 'devices', id: 'c', set: { batchId: 'b1' } }]);
    expect(await ids(store, { batchId: 'b1' })).toEqual(['c', 'b', 'a']);
    await store.commit('cache', 3, [{ type: 'upsert', collection: 'devices', id: 'a', set: { note: 'y' } }]);
    expect((await page(store, { batchId: 'b1' })).items.find((d) => d.id === 'a')).toMatchObject({ note: 'y' });
  });

  it('starts again from nothing after a reset', async () => {
    const store = await storeWithThree();
    expect(await ids(store)).toEqual(['c', 'b', 'a']);
    await store.reset('cache');
    expect(await page(store)).toEqual({ items: [], total: 0 });
  });

  it('keeps a large result while another indexed field changes, and sees a change of its own fields', async () => {
    // 100 documents: past the size under which results are not kept, so the kept ones are what answers.
    const store = new EmbeddedProjectionStore();
    await store.define({ name: 'cache', collections: { devices: { indexes: ['batchId', 'seq', 'seen'] } } });
    const id = (i: number) => `d${String(i).padStart(3, '0')}`;
    await store.commit(
      'cache',
      1,
      Array.from({ length: 100 }, (_, i) => ({
        type: 'upsert' as const,
        collection: 'devices',
        id: id(i),
        set: { batchId: i < 50 ? 'b1' : 'b2', seq: i, seen: 0 },
      })),
    );
    const first = async (where: Record<string, string> = {}) => (await ids(store, where))[0];
    expect(await first()).toBe('d099');
    expect(await first({ batchId: 'b1' })).toBe('d049');
    // `seen` changes on every document (as a last-telemetry time would): neither result uses it.
    for (let n = 1; n <= 3; n++)
      await store.commit('cache', 1 + n, [{ type: 'upsert', collection: 'devices', id: id(n), set: { seen: n } }]);
    expect(await first()).toBe('d099');
    // The sort field and the filter field changed: both results are computed again.
    await store.commit('cache', 10, [{ type: 'upsert', collection: 'devices', id: id(7), set: { seq: 1_000 } }]);
    expect(await first()).toBe('d007');
    expect(await first({ batchId: 'b1' })).toBe('d007');
    await store.commit('cache', 11, [{ type: 'upsert', collection: 'devices', id: id(7), set: { batchId: 'b2' } }]);
    expect(await first({ batchId: 'b1' })).toBe('d049');
    expect((await page(store, { batchId: 'b2' })).total).toBe(51);
    const bySeen = await store.find('cache', 'devices', { sort: [{ field: 'seen', direction: 'desc' }] });
    expect(bySeen.items.slice(0, 3).map((d) => d.id)).toEqual(['d003', 'd002', 'd001']);
    await store.commit('cache', 12, [{ type: 'upsert', collection: 'devices', id: id(1), set: { seen: 9 } }]);
    const again = await store.find('cache', 'devices', { sort: [{ field: 'seen', direction: 'desc' }] });
    expect(again.items[0]!.id).toBe('d001');
  });
});
