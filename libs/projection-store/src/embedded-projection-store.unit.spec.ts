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
});
