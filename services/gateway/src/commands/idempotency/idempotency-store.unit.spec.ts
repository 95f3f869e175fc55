import { InMemoryIdempotencyStore } from './idempotency-store.js';

describe('InMemoryIdempotencyStore: bounded, expiring', () => {
  it('answers the first digest recorded under a command id', async () => {
    const store = new InMemoryIdempotencyStore();
    expect(await store.claim('c1', 'a')).toBe('a');
    expect(await store.claim('c1', 'b')).toBe('a');
    expect(await store.claim('c2', 'b')).toBe('b');
  });

  it('forgets a key once it expired', async () => {
    let now = 0;
    const store = new InMemoryIdempotencyStore({ ttlMs: 1000, clock: () => now });
    await store.claim('c1', 'a');
    now = 999;
    expect(await store.claim('c1', 'b')).toBe('a');
    now = 1000;
    expect(await store.claim('c1', 'b')).toBe('b');
  });

  it('keeps at most maxEntries, forgetting the oldest first', async () => {
    const store = new InMemoryIdempotencyStore({ maxEntries: 3 });
    for (const id of ['c1', 'c2', 'c3', 'c4', 'c5']) await store.claim(id, id);
    expect(store.size).toBe(3);
    expect(await store.claim('c5', 'other')).toBe('c5');
    expect(await store.claim('c1', 'other')).toBe('other');
  });
});
