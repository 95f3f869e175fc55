import { ProjectionStoreUnavailableError } from './errors.js';
import { projectionStoreFromEnv } from './from-env.js';
import { toUpdate } from './mongodb-projection-store.js';

// The update documents the MongoDB adapter sends (the adapter itself runs in the shared suite when MONGO_URL is set).
describe('MongoDB updates: the guard and the data in one updateOne', () => {
  const change = {
    collection: 'devices',
    id: 'd1',
    sequence: 42,
    delete: false,
    set: { state: 'certified' },
    inc: { messages: 1 },
    unset: ['connection'],
  };

  test('an upsert filters on the source guard being below the sequence and raises it with $max in the same update', () => {
    expect(toUpdate(change, 'registry:device')).toEqual({
      updateOne: {
        filter: { _id: 'd1', '_seq.registry:device': { $not: { $gte: 42 } } },
        update: {
          $max: { '_seq.registry:device': 42 },
          $unset: { _deleted: '', connection: '' },
          $set: { state: 'certified' },
          $inc: { messages: 1 },
        },
        upsert: true,
      },
    });
  });

  test('empty $set/$inc are left out', () => {
    expect(toUpdate({ ...change, set: {}, inc: {}, unset: [] }, 'main')).toEqual({
      updateOne: {
        filter: { _id: 'd1', '_seq.main': { $not: { $gte: 42 } } },
        update: { $max: { '_seq.main': 42 }, $unset: { _deleted: '' } },
        upsert: true,
      },
    });
  });

  test('a delete leaves a tombstone that keeps only the guards', () => {
    expect(toUpdate({ ...change, delete: true }, 'main')).toEqual({
      updateOne: {
        filter: { _id: 'd1', '_seq.main': { $not: { $gte: 42 } } },
        update: [{ $project: { _id: 1, _seq: 1 } }, { $set: { _deleted: true, '_seq.main': 42 } }],
        upsert: true,
      },
    });
  });
});

describe('projectionStoreFromEnv', () => {
  test('without MONGO_URL: the embedded store', async () => {
    const store = await projectionStoreFromEnv({});
    expect(store.kind).toBe('embedded');
    await store.close();
  });

  test('with MONGO_URL and no server there: a typed error that does not carry the URL', async () => {
    const error = await projectionStoreFromEnv(
      { MONGO_URL: 'mongodb://user:secret@127.0.0.1:1/tk' },
      { serverSelectionTimeoutMS: 200 },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProjectionStoreUnavailableError);
    expect(error).toMatchObject({ name: 'ProjectionStoreUnavailableError', code: 'UNAVAILABLE' });
    expect(
      JSON.stringify({
        message: (error as Error).message,
        context: (error as ProjectionStoreUnavailableError).context,
      }),
    ).not.toContain('secret');
  });
});
