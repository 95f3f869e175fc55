import {
  MongoBulkWriteError,
  MongoClient,
  MongoServerError,
  type AnyBulkWriteOperation,
  type Collection,
  type Db,
  type Filter,
  type IndexSpecification,
} from 'mongodb';
import type { ProjectionStoreHooks } from './embedded-projection-store.js';
import { ProjectionStoreError, ProjectionStoreUnavailableError, UnknownCollectionError } from './errors.js';
import {
  defaultSource,
  type CommitOptions,
  type CommitResult,
  type CountByQuery,
  type FindQuery,
  type GroupCount,
  type JsonScalar,
  type Page,
  type ProjectionDocument,
  type ProjectionSchema,
  type ProjectionStore,
  type Write,
} from './projection-store.js';
import {
  checkSchema,
  checkSource,
  compareGroupKeys,
  indexedFieldsOf,
  normalizeCountBy,
  normalizeFind,
  type NormalizedFilter,
  toChanges,
  type DocumentChange,
  type IndexedFields,
} from './store-rules.js';

/** A read-model document as stored: `_id` is the document's id; `_seq` the guard per source; `_deleted` marks a tombstone. */
interface StoredDocument {
  _id: string;
  _seq?: Record<string, number>;
  _deleted?: boolean;
  [field: string]: unknown;
}

interface CheckpointDocument {
  _id: string;
  sources: Record<string, number>;
}

export interface MongoProjectionStoreOptions {
  /** Database name. Default: the URL's path, else 'tunnelkey'. */
  database?: string;
  /** Name of the collection holding every projection's checkpoints. Default 'projection_checkpoints'. */
  checkpointsCollection?: string;
  hooks?: ProjectionStoreHooks;
  /** How long `connect` looks for a server before failing. Default 5 s. */
  serverSelectionTimeoutMS?: number;
}

const duplicateKey = 11000;
const live = { _deleted: { $ne: true } } as const;
const hidden = { _seq: 0, _deleted: 0 } as const;

function unavailable(what: string, error: unknown, context: Record<string, string | number> = {}): Error {
  if (error instanceof ProjectionStoreError) return error;
  return new ProjectionStoreUnavailableError(`MongoDB ${what} failed`, context, { cause: error });
}

function toDocument<T extends ProjectionDocument>(stored: StoredDocument): T {
  const { _id, _seq: _guard, _deleted: _tombstone, ...fields } = stored;
  return { ...fields, id: _id } as T;
}

const mongoField = (field: string) => (field === 'id' ? '_id' : field);

function whereFilter(where: readonly NormalizedFilter[]): Filter<StoredDocument> {
  const filter: Record<string, unknown> = { ...live };
  for (const [field, values] of where) filter[mongoField(field)] = values.length === 1 ? values[0] : { $in: values };
  return filter as Filter<StoredDocument>;
}

/**
 * One document change as one `updateOne`: the guard in the filter (this source's last sequence is
 * below the change's), the data and the new guard in the same update, upsert for new documents.
 * MongoDB applies a single-document update atomically, so the data and the guard cannot part.
 * When the guard fails on an existing document, the upsert tries to insert its `_id` again and
 * fails with a duplicate key: that is the "already applied" answer.
 */
export function toUpdate(change: DocumentChange, source: string): AnyBulkWriteOperation<StoredDocument> {
  const guard = `_seq.${source}`;
  const filter = { _id: change.id, [guard]: { $not: { $gte: change.sequence } } } as Filter<StoredDocument>;
  if (change.delete) {
    // A tombstone: only the guards survive, so an older event redelivered cannot bring it back.
    return {
      updateOne: {
        filter,
        update: [{ $project: { _id: 1, _seq: 1 } }, { $set: { _deleted: true, [guard]: change.sequence } }],
        upsert: true,
      },
    };
  }
  const update: Record<string, Record<string, unknown>> = {
    $max: { [guard]: change.sequence },
    $unset: { _deleted: '', ...Object.fromEntries(change.unset.map((f) => [f, ''])) },
  };
  if (Object.keys(change.set).length > 0) update['$set'] = { ...change.set };
  if (Object.keys(change.inc).length > 0) update['$inc'] = { ...change.inc };
  return { updateOne: { filter, update, upsert: true } };
}

/**
 * The projection store on MongoDB (the official driver): one collection per projection
 * collection (`<projection>.<collection>`) with its declared indexes, and one checkpoints
 * collection (`{ _id: projection, sources: { <source>: sequence } }`).
 *
 * Exactly-once in effect, without multi-document transactions: every document carries, per
 * source, the last sequence applied to it, and each change is one atomic `updateOne` that checks
 * the guard and writes the data and the new guard together. The checkpoint is written after the
 * batch. A crash between the two leaves the checkpoint behind the data; the runner then replays
 * from the checkpoint, and every change already applied fails its guard and changes nothing
 * (increments included), while the ones that were not applied are. The checkpoint only ever
 * lags the data, never leads it, so nothing is lost either. This needs one writer per
 * projection (one runner), which its LiveFeed gives: one event in flight per source.
 */
export class MongoProjectionStore implements ProjectionStore {
  readonly kind = 'mongodb' as const;
  readonly #client: MongoClient;
  readonly #ownsClient: boolean;
  readonly #db: Db;
  readonly #checkpoints: Collection<CheckpointDocument>;
  readonly #hooks: ProjectionStoreHooks;
  readonly #schemas = new Map<string, IndexedFields>();

  constructor(client: MongoClient, options: MongoProjectionStoreOptions & { ownsClient?: boolean } = {}) {
    this.#client = client;
    this.#ownsClient = options.ownsClient ?? false;
    this.#db = client.db(options.database ?? (client.options.dbName || 'tunnelkey'));
    this.#checkpoints = this.#db.collection<CheckpointDocument>(
      options.checkpointsCollection ?? 'projection_checkpoints',
    );
    this.#hooks = options.hooks ?? {};
  }

  /** Connects to `url` (e.g. MONGO_URL) and owns the client: `close` closes it. */
  static async connect(url: string, options: MongoProjectionStoreOptions = {}): Promise<MongoProjectionStore> {
    const client = new MongoClient(url, { serverSelectionTimeoutMS: options.serverSelectionTimeoutMS ?? 5_000 });
    try {
      await client.connect();
    } catch (error) {
      await client.close().catch(() => undefined);
      // The URL may carry credentials: never put it in the error.
      throw new ProjectionStoreUnavailableError('could not connect to MongoDB (MONGO_URL)', {}, { cause: error });
    }
    return new MongoProjectionStore(client, { ...options, ownsClient: true });
  }

  get databaseName(): string {
    return this.#db.databaseName;
  }

  async define(schema: ProjectionSchema): Promise<void> {
    const fields = checkSchema(schema);
    try {
      for (const [collection, spec] of Object.entries(schema.collections)) {
        const indexes = spec.indexes.map(
          (index) =>
            Object.fromEntries((typeof index === 'string' ? [index] : index).map((f) => [f, 1])) as IndexSpecification,
        );
        const target = this.#collection(schema.name, collection);
        // createIndex is idempotent for an identical index; it creates the collection too.
        if (indexes.length === 0)
          await this.#db
            .createCollection(target.collectionName)
            .catch((e: unknown) => (isNamespaceExists(e) ? undefined : Promise.reject(e)));
        for (const index of indexes) await target.createIndex(index);
      }
    } catch (error) {
      throw unavailable('define', error, { projection: schema.name });
    }
    this.#schemas.set(schema.name, fields);
  }

  async checkpoint(projection: string, source = defaultSource): Promise<number> {
    return (await this.checkpoints(projection))[source] ?? 0;
  }

  async checkpoints(projection: string): Promise<Record<string, number>> {
    try {
      return (await this.#checkpoints.findOne({ _id: projection }))?.sources ?? {};
    } catch (error) {
      throw unavailable('checkpoint read', error, { projection });
    }
  }

  async commit(
    projection: string,
    sequence: number,
    writes: readonly Write[],
    options: CommitOptions = {},
  ): Promise<CommitResult> {
    const source = checkSource(options.source ?? defaultSource);
    const schema = this.#schemas.get(projection);
    if (!schema) throw new UnknownCollectionError('projection not defined (call define first)', { projection });
    const changes = toChanges(schema, projection, sequence, writes);
    // Per collection, in order: two changes of one document must apply in sequence order.
    const byCollection = new Map<string, DocumentChange[]>();
    for (const change of changes)
      byCollection.set(change.collection, [...(byCollection.get(change.collection) ?? []), change]);
    let applied = 0;
    for (const [collection, list] of byCollection)
      applied += await this.#apply(this.#collection(projection, collection), list, source);
    await this.#hooks.beforeCheckpoint?.(projection, sequence, source);
    try {
      await this.#checkpoints.updateOne(
        { _id: projection },
        { $max: { [`sources.${source}`]: sequence } },
        { upsert: true },
      );
    } catch (error) {
      throw unavailable('checkpoint write', error, { projection, sequence });
    }
    return { applied, skipped: changes.length - applied };
  }

  /** An ordered bulk write; a duplicate key (the guard refused an existing document) is a skip, and the rest goes on. Returns the changes applied. */
  async #apply(collection: Collection<StoredDocument>, changes: DocumentChange[], source: string): Promise<number> {
    let applied = 0;
    let start = 0;
    while (start < changes.length) {
      const batch = changes.slice(start);
      try {
        const result = await collection.bulkWrite(
          batch.map((c) => toUpdate(c, source)),
          { ordered: true },
        );
        return applied + result.matchedCount + result.upsertedCount;
      } catch (error) {
        const failed = error instanceof MongoBulkWriteError ? [error.writeErrors].flat()[0] : undefined;
        if (!(error instanceof MongoBulkWriteError) || !failed || failed.code !== duplicateKey)
          throw unavailable('write', error, { collection: collection.collectionName });
        applied += error.result.matchedCount + error.result.upsertedCount;
        const change = batch[failed.index]!;
        if (!(await this.#alreadyApplied(collection, change, source))) {
          // Not our guard: two upserts of a new document raced. Once more, alone, now that it exists.
          const again = await collection
            .bulkWrite([toUpdate(change, source)])
            .catch((e: unknown) => Promise.reject(unavailable('write', e, { collection: collection.collectionName })));
          applied += again.matchedCount + again.upsertedCount;
        }
        start += failed.index + 1;
      }
    }
    return applied;
  }

  async #alreadyApplied(
    collection: Collection<StoredDocument>,
    change: DocumentChange,
    source: string,
  ): Promise<boolean> {
    const current = await collection.findOne({ _id: change.id }, { projection: { _seq: 1 } });
    return (current?._seq?.[source] ?? 0) >= change.sequence;
  }

  async get<T extends ProjectionDocument = ProjectionDocument>(
    projection: string,
    collection: string,
    id: string,
  ): Promise<T | undefined> {
    const target = this.#queried(projection, collection);
    try {
      const found = await target.findOne({ _id: id, ...live } as Filter<StoredDocument>, { projection: hidden });
      return found ? toDocument<T>(found) : undefined;
    } catch (error) {
      throw unavailable('get', error, { projection, collection });
    }
  }

  async find<T extends ProjectionDocument = ProjectionDocument>(
    projection: string,
    collection: string,
    query: FindQuery = {},
  ): Promise<Page<T>> {
    const { where, sort, skip, limit, select } = normalizeFind(
      indexedFieldsOf(this.#schemas, projection, collection),
      collection,
      query,
    );
    const target = this.#queried(projection, collection);
    const filter = whereFilter(where);
    try {
      const [items, total] = await Promise.all([
        target
          .find(filter, {
            projection: select ? Object.fromEntries([['_id', 1], ...select.map((f) => [f, 1])]) : hidden,
          })
          .sort(Object.fromEntries(sort.map(({ field, direction }) => [mongoField(field), direction])))
          .skip(skip)
          .limit(limit)
          .toArray(),
        target.countDocuments(filter),
      ]);
      return { items: items.map((d) => toDocument<T>(d)), total };
    } catch (error) {
      throw unavailable('find', error, { projection, collection });
    }
  }

  async countBy(projection: string, collection: string, query: CountByQuery): Promise<GroupCount[]> {
    const { by, where } = normalizeCountBy(indexedFieldsOf(this.#schemas, projection, collection), collection, query);
    const target = this.#queried(projection, collection);
    try {
      const rows = await target
        .aggregate<{ _id: Record<string, JsonScalar>; count: number }>([
          { $match: whereFilter(where) },
          // $ifNull: a missing field and a null one are one group, as in the embedded store.
          {
            $group: {
              _id: Object.fromEntries(by.map((f) => [f, { $ifNull: [`$${mongoField(f)}`, null] }])),
              count: { $sum: 1 },
            },
          },
        ])
        .toArray();
      const groups = rows.map((row) => ({
        key: Object.fromEntries(by.map((f) => [f, row._id?.[f] ?? null])),
        count: row.count,
      }));
      return groups.sort((a, b) => compareGroupKeys(by, a, b));
    } catch (error) {
      throw unavailable('countBy', error, { projection, collection });
    }
  }

  async reset(projection: string): Promise<void> {
    const schema = this.#schemas.get(projection);
    if (!schema) throw new UnknownCollectionError('projection not defined (call define first)', { projection });
    try {
      for (const collection of schema.keys()) await this.#collection(projection, collection).deleteMany({});
      await this.#checkpoints.deleteOne({ _id: projection });
    } catch (error) {
      throw unavailable('reset', error, { projection });
    }
  }

  /** Drops the whole database (tests give each store its own). */
  async dropDatabase(): Promise<void> {
    await this.#db.dropDatabase();
  }

  async close(): Promise<void> {
    if (this.#ownsClient) await this.#client.close();
  }

  #collection(projection: string, collection: string): Collection<StoredDocument> {
    return this.#db.collection<StoredDocument>(`${projection}.${collection}`);
  }

  #queried(projection: string, collection: string): Collection<StoredDocument> {
    indexedFieldsOf(this.#schemas, projection, collection);
    return this.#collection(projection, collection);
  }
}

function isNamespaceExists(error: unknown): boolean {
  // 48: NamespaceExists (the collection is already there).
  return error instanceof MongoServerError && error.code === 48;
}
