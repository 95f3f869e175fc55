import { EmbeddedProjectionStore, type Write } from '@tunnelkey/projection-store';
import type { AppliedChange } from '../views/read-models.js';
import { batchesCollection, devicesCollection, fleetProjection, fleetProjectionName } from '../views/fleet.view.js';
import { OwnerDirectory } from './owner-directory.js';

/** The fleet view's store and its commits, as ReadModels reports them (`onCommitted`). */
async function fleet() {
  const store = new EmbeddedProjectionStore();
  await store.define(fleetProjection);
  const listeners: ((change: AppliedChange) => void)[] = [];
  let sequence = 0;
  return {
    readModels: {
      store,
      onCommitted: (listener: (change: AppliedChange) => void) => (listeners.push(listener), () => true),
    },
    async commit(...writes: Write[]) {
      await store.commit(fleetProjectionName, ++sequence, writes);
      for (const listener of listeners) listener({ projection: fleetProjectionName, writes });
    },
  };
}

const batch = (batchId: string, ownerId: string, createdAt: string): Write => ({
  type: 'upsert',
  collection: batchesCollection,
  id: batchId,
  set: { batchId, ownerId, createdAt },
});
const device = (deviceId: string, batchId: string): Write => ({
  type: 'upsert',
  collection: devicesCollection,
  id: deviceId,
  set: { batchId },
});

describe('OwnerDirectory: what it keeps follows the fleet view', () => {
  it("a device's owner follows its batch when a commit moves it (a transfer)", async () => {
    const { readModels, commit } = await fleet();
    await commit(batch('b-acme', 'acme', '2030-01-01T00:00:00Z'), batch('b-globex', 'globex', '2030-01-02T00:00:00Z'));
    await commit(device('d-1', 'b-acme'));
    const directory = new OwnerDirectory(readModels);
    expect(await directory.ownerOf({ kind: 'device', id: 'd-1' })).toEqual({ known: true, ownerId: 'acme' });
    await commit(device('d-1', 'b-globex'));
    expect(await directory.ownerOf({ kind: 'device', id: 'd-1' })).toEqual({ known: true, ownerId: 'globex' });
  });

  it('a device not in the view yet is unknown, and known once a commit adds it', async () => {
    const { readModels, commit } = await fleet();
    await commit(batch('b-acme', 'acme', '2030-01-01T00:00:00Z'));
    const directory = new OwnerDirectory(readModels);
    expect(await directory.ownerOf({ kind: 'device', id: 'd-2' })).toEqual({ known: false });
    await commit(device('d-2', 'b-acme'));
    expect(await directory.ownerOf({ kind: 'device', id: 'd-2' })).toEqual({ known: true, ownerId: 'acme' });
  });

  it("an owner's batches include one created after they were first asked for, newest first", async () => {
    const { readModels, commit } = await fleet();
    await commit(batch('b-1', 'acme', '2030-01-01T00:00:00Z'), batch('b-x', 'globex', '2030-01-01T00:00:00Z'));
    const directory = new OwnerDirectory(readModels);
    expect(await directory.batchIdsOf('acme')).toEqual(['b-1']);
    await commit(batch('b-2', 'acme', '2030-01-03T00:00:00Z'));
    expect(await directory.batchIdsOf('acme')).toEqual(['b-2', 'b-1']);
    expect(await directory.batchIdsOf('globex')).toEqual(['b-x']);
  });

  it('without commits to follow (a bare store) it reads the store every time', async () => {
    const { readModels, commit } = await fleet();
    await commit(batch('b-acme', 'acme', '2030-01-01T00:00:00Z'), batch('b-globex', 'globex', '2030-01-02T00:00:00Z'));
    await commit(device('d-3', 'b-acme'));
    const directory = new OwnerDirectory({ store: readModels.store });
    expect(await directory.ownerOf({ kind: 'device', id: 'd-3' })).toEqual({ known: true, ownerId: 'acme' });
    await readModels.store.commit(fleetProjectionName, 100, [device('d-3', 'b-globex')]);
    expect(await directory.ownerOf({ kind: 'device', id: 'd-3' })).toEqual({ known: true, ownerId: 'globex' });
  });
});
