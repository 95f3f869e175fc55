import { natsFixture } from '@tunnelkey/testing';
import type { TokenRecord } from './api-token.js';
import { KvTokenStore } from './token-store.js';

// Issue 19: a gateway keeps a token record it read for a second (not a bucket read on every
// authenticated request). Two instances on one real bucket, each with its own clock: a
// revocation holds at once where it was made, and within the kept time on the other.
describe('KvTokenStore: records kept for recordTtlMs', () => {
  const nats = natsFixture();
  beforeAll(() => nats.setup());
  afterAll(() => nats.teardown());

  const record: TokenRecord = {
    id: '0123456789abcdef',
    name: 'olivia',
    role: 'viewer',
    sha256: 'ab'.repeat(32),
    createdAt: '2026-01-01T00:00:00.000Z',
    createdBy: 'bootstrap-admin',
  };

  it('refuses a revoked token at once on the instance that revoked it, and after the kept time on another', async () => {
    const namespace = nats.subNamespace();
    let now = 0;
    const clock = () => now;
    const a = await KvTokenStore.open(nats.nc, namespace, { recordTtlMs: 1_000, clock });
    const b = await KvTokenStore.open(nats.nc, namespace, { recordTtlMs: 1_000, clock });
    expect(await b.get(record.id)).toBeUndefined();
    expect(await a.create(record)).toBe(true);
    expect(await a.get(record.id)).toEqual(record);
    // b kept "unknown": a token created elsewhere works here once the kept time is over.
    expect(await b.get(record.id)).toBeUndefined();
    now += 1_001;
    expect(await b.get(record.id)).toEqual(record);

    const revoked = { ...record, revokedAt: '2026-01-02T00:00:00.000Z' };
    await a.put(revoked);
    expect(await a.get(record.id)).toEqual(revoked);
    expect(await b.get(record.id)).toEqual(record);
    now += 1_001;
    expect(await b.get(record.id)).toEqual(revoked);
    expect(await a.list()).toEqual([revoked]);
  });

  it('refuses to create a record twice', async () => {
    const store = await KvTokenStore.open(nats.nc, nats.subNamespace());
    expect(await store.create(record)).toBe(true);
    expect(await store.create({ ...record, name: 'other' })).toBe(false);
    expect(await store.get(record.id)).toEqual(record);
  });
});
