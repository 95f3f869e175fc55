import {
  checkSchema,
  checkSource,
  compareGroupKeys,
  compareValues,
  indexedFieldsOf,
  normalizeCountBy,
  normalizeFind,
  type NormalizedFilter,
  toChanges,
  type DocumentChange,
  type IndexedFields,
} from './store-rules.js';
import {
  defaultSource,
  type CommitOptions,
  type CommitResult,
  type CountByQuery,
  type FindQuery,
  type GroupCount,
  type JsonScalar,
  type JsonValue,
  type Page,
  type ProjectionDocument,
  type ProjectionSchema,
  type ProjectionStore,
  type Write,
} from './projection-store.js';
import { UnknownCollectionError } from './errors.js';

export interface ProjectionStoreHooks {
  /**
   * Called after a commit's data is written and before its checkpoint is: a throw here is a
   * crash between the two (for tests of the resume path).
   */
  beforeCheckpoint?: (projection: string, sequence: number, source: string) => void | Promise<void>;
}

interface StoredDocument {
  fields: Record<string, JsonValue>;
  /** Last sequence applied, per source: the idempotency guard. Kept on delete (a tombstone). */
  guard: Record<string, number>;
  deleted: boolean;
}

/** Index keys of a value: a scalar's JSON (missing is null); an array is indexed by its elements, like MongoDB's multikey indexes. */
function keysOf(value: JsonValue | undefined): string[] {
  if (Array.isArray(value)) return value.length === 0 ? ['null'] : value.map((v) => JSON.stringify(v ?? null));
  return [JSON.stringify(value ?? null)];
}

function matches(value: JsonValue | undefined, wanted: JsonScalar): boolean {
  if (wanted === null) return value === null || value === undefined;
  if (Array.isArray(value)) return value.some((v) => v === wanted);
  return value === wanted;
}

/** Sorted results kept per collection (distinct filter + sort pairs); past it they are all dropped. */
const maxCachedResults = 256;
const minCachedResult = 64;

class EmbeddedCollection {
  readonly documents = new Map<string, StoredDocument>();
  /** field -> index key -> ids of live documents. */
  readonly indexes = new Map<string, Map<string, Set<string>>>();
  live = 0;
  /**
   * What a cached result depends on: which documents are live (raised when one enters or leaves)
   * and, per indexed field, its values (raised when a live document's value of it changes). A
   * result remembers the versions of the fields it filtered and sorted on, so a telemetry update
   * of `lastTelemetryAt` keeps every cached result that does not use that field.
   */
  #membershipVersion = 0;
  readonly #fieldVersions = new Map<string, number>();
  readonly #results = new Map<string, { version: string; ids: readonly string[] }>();

  constructor(indexed: ReadonlySet<string>) {
    for (const field of indexed) if (field !== 'id') this.indexes.set(field, new Map());
  }

  #index(id: string, fields: Record<string, JsonValue>, add: boolean, only?: readonly string[]): void {
    for (const field of only ?? this.indexes.keys()) {
      const index = this.indexes.get(field)!;
      for (const key of keysOf(fields[field])) {
        let ids = index.get(key);
        if (add) {
          if (!ids) index.set(key, (ids = new Set()));
          ids.add(id);
        } else if (ids) {
          ids.delete(id);
          if (ids.size === 0) index.delete(key);
        }
      }
    }
  }

  /** Applies a change unless the document already saw its sequence; true when applied. */
  apply(change: DocumentChange, source: string): boolean {
    const existing = this.documents.get(change.id);
    if (existing && (existing.guard[source] ?? 0) >= change.sequence) return false;
    const guard = { ...existing?.guard, [source]: change.sequence };
    const live = existing && !existing.deleted ? existing : undefined;
    if (change.delete) {
      if (live) this.#unindex(change.id, live.fields);
      this.documents.set(change.id, { fields: {}, guard, deleted: true });
      return true;
    }
    // A tombstone comes back empty: the old document's fields went with its deletion.
    const fields: Record<string, JsonValue> = live ? { ...live.fields } : {};
    for (const [field, value] of Object.entries(change.set)) fields[field] = cloneJson(value);
    for (const [field, by] of Object.entries(change.inc)) {
      const current = fields[field];
      fields[field] = (typeof current === 'number' ? current : 0) + by;
    }
    for (const field of change.unset) delete fields[field];
    this.documents.set(change.id, { fields, guard, deleted: false });
    if (!live) {
      this.#index(change.id, fields, true);
      this.live++;
      this.#membershipVersion++;
      return true;
    }
    const changed = this.#indexedChanged(live.fields, fields);
    if (changed.length > 0) {
      this.#index(change.id, live.fields, false, changed);
      this.#index(change.id, fields, true, changed);
      for (const field of changed) this.#fieldVersions.set(field, (this.#fieldVersions.get(field) ?? 0) + 1);
    }
    return true;
  }

  #unindex(id: string, fields: Record<string, JsonValue>): void {
    this.#index(id, fields, false);
    this.live--;
    this.#membershipVersion++;
  }

  #indexedChanged(before: Record<string, JsonValue>, after: Record<string, JsonValue>): string[] {
    const changed: string[] = [];
    for (const field of this.indexes.keys()) {
      const a = before[field];
      const b = after[field];
      if (a === b) continue;
      if (keysOf(a).join('\u0000') !== keysOf(b).join('\u0000')) changed.push(field);
    }
    return changed;
  }

  /**
   * The ids `compute` answers for this filter and sort (on `fields`), kept until documents enter or
   * leave or one of those fields changes value.
   */
  sorted(key: string, fields: readonly string[], compute: () => string[]): readonly string[] {
    const version = `${this.#membershipVersion}:${fields.map((f) => this.#fieldVersions.get(f) ?? 0).join(',')}`;
    const cached = this.#results.get(key);
    if (cached?.version === version) return cached.ids;
    const ids = compute();
    // A small selection sorts in microseconds: keeping it would only push out the large ones.
    if (ids.length < minCachedResult) return ids;
    if (this.#results.size >= maxCachedResults) this.#results.clear();
    this.#results.set(key, { version, ids });
    return ids;
  }

  insert(id: string, doc: StoredDocument): void {
    this.documents.set(id, doc);
    if (doc.deleted) return;
    this.#index(id, doc.fields, true);
    this.live++;
    this.#membershipVersion++;
  }

  liveDocument(id: string): StoredDocument | undefined {
    const doc = this.documents.get(id);
    return doc && !doc.deleted ? doc : undefined;
  }

  /** Ids of live documents matching every equality, starting from the smallest index bucket. */
  select(where: readonly NormalizedFilter[]): Iterable<string> {
    if (where.length === 0) return [...this.documents.entries()].filter(([, d]) => !d.deleted).map(([id]) => id);
    const idFilter = where.find(([field]) => field === 'id');
    let candidates: Iterable<string>;
    if (idFilter) {
      candidates = idFilter[1].filter((id): id is string => typeof id === 'string' && !!this.liveDocument(id));
    } else {
      let smallest: Set<string> | undefined;
      for (const [field, values] of where) {
        const buckets = values.map((value) => this.indexes.get(field)?.get(JSON.stringify(value)) ?? new Set<string>());
        const bucket = buckets.length === 1 ? buckets[0]! : new Set(buckets.flatMap((b) => [...b]));
        if (!smallest || bucket.size < smallest.size) smallest = bucket;
      }
      candidates = smallest ?? [];
    }
    const result: string[] = [];
    for (const id of new Set(candidates)) {
      const doc = this.liveDocument(id);
      const passes = ([field, values]: NormalizedFilter) =>
        values.some((value) => (field === 'id' ? id === value : matches(doc!.fields[field], value)));
      if (doc && where.every(passes)) result.push(id);
    }
    return result;
  }

  clear(): void {
    this.documents.clear();
    for (const index of this.indexes.values()) index.clear();
    this.live = 0;
    this.#membershipVersion++;
  }
}

/**
 * A copy of a JSON value: objects and arrays anew, strings shared (they are immutable). Several
 * times faster than structuredClone, which copies every string: a page of 50 devices with their
 * certificates spent most of its time there.
 */
function cloneJson<T extends JsonValue>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(cloneJson) as T;
  const copy: Record<string, JsonValue> = {};
  for (const key in value) copy[key] = cloneJson((value as Record<string, JsonValue>)[key]!);
  return copy as T;
}

function toDocument<T extends ProjectionDocument>(id: string, doc: StoredDocument, select?: readonly string[]): T {
  if (select) {
    const picked: Record<string, JsonValue> = { id };
    for (const field of select) if (field in doc.fields) picked[field] = cloneJson(doc.fields[field]!);
    return picked as T;
  }
  const copy = cloneJson(doc.fields);
  copy['id'] = id;
  return copy as T;
}

/**
 * The projection store in process memory: Maps with an equality index per declared field. The
 * default for a single gateway; nothing is persisted, so a runner rebuilds it from the log at
 * start (its checkpoints start at 0). Documents are copied in and out: callers never share
 * objects with the store.
 */
export class EmbeddedProjectionStore implements ProjectionStore {
  readonly kind = 'embedded' as const;
  readonly #schemas = new Map<string, IndexedFields>();
  readonly #collections = new Map<string, Map<string, EmbeddedCollection>>();
  readonly #checkpoints = new Map<string, Map<string, number>>();
  readonly #hooks: ProjectionStoreHooks;

  constructor(hooks: ProjectionStoreHooks = {}) {
    this.#hooks = hooks;
  }

  async define(schema: ProjectionSchema): Promise<void> {
    const fields = checkSchema(schema);
    const collections = this.#collections.get(schema.name) ?? new Map<string, EmbeddedCollection>();
    for (const [name, indexed] of fields) {
      const existing = collections.get(name);
      if (
        existing &&
        existing.indexes.size === indexed.size - 1 &&
        [...existing.indexes.keys()].every((f) => indexed.has(f))
      )
        continue;
      // New or re-indexed collection: index its documents again.
      const collection = new EmbeddedCollection(indexed);
      for (const [id, doc] of existing?.documents ?? []) collection.insert(id, doc);
      collections.set(name, collection);
    }
    this.#collections.set(schema.name, collections);
    this.#schemas.set(schema.name, fields);
  }

  async checkpoint(projection: string, source = defaultSource): Promise<number> {
    return this.#checkpoints.get(projection)?.get(source) ?? 0;
  }

  async checkpoints(projection: string): Promise<Record<string, number>> {
    return Object.fromEntries(this.#checkpoints.get(projection) ?? []);
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
    const collections = this.#collections.get(projection)!;
    let applied = 0;
    for (const change of changes) if (collections.get(change.collection)!.apply(change, source)) applied++;
    await this.#hooks.beforeCheckpoint?.(projection, sequence, source);
    let checkpoints = this.#checkpoints.get(projection);
    if (!checkpoints) this.#checkpoints.set(projection, (checkpoints = new Map()));
    checkpoints.set(source, Math.max(checkpoints.get(source) ?? 0, sequence));
    return { applied, skipped: changes.length - applied };
  }

  async get<T extends ProjectionDocument = ProjectionDocument>(
    projection: string,
    collection: string,
    id: string,
  ): Promise<T | undefined> {
    const doc = this.#collection(projection, collection).liveDocument(id);
    return doc ? toDocument<T>(id, doc) : undefined;
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
    const store = this.#collection(projection, collection);
    const used = [...where.map(([field]) => field), ...sort.map(({ field }) => field)];
    const ids = store.sorted(JSON.stringify([where, sort]), used, () => {
      const selected = [...store.select(where)];
      const value = (id: string, field: string) => (field === 'id' ? id : store.documents.get(id)!.fields[field]);
      return selected.sort((a, b) => {
        for (const { field, direction } of sort) {
          const c = compareValues(value(a, field), value(b, field));
          if (c !== 0) return c * direction;
        }
        return 0;
      });
    });
    const page = ids.slice(skip, skip + limit);
    return {
      // Ids only (`select: []`): the sorted ids are live documents' (a result is dropped when one enters or leaves), none is read.
      items:
        select?.length === 0
          ? page.map((id) => ({ id }) as T)
          : page.map((id) => toDocument<T>(id, store.documents.get(id)!, select)),
      total: ids.length,
    };
  }

  async countBy(projection: string, collection: string, query: CountByQuery): Promise<GroupCount[]> {
    const { by, where } = normalizeCountBy(indexedFieldsOf(this.#schemas, projection, collection), collection, query);
    const store = this.#collection(projection, collection);
    const groups = new Map<string, GroupCount>();
    for (const id of store.select(where)) {
      const fields = store.documents.get(id)!.fields;
      const key: Record<string, JsonScalar> = {};
      for (const field of by) {
        const v = field === 'id' ? id : fields[field];
        key[field] = v === undefined ? null : (v as JsonScalar);
      }
      const k = JSON.stringify(by.map((f) => key[f]));
      const group = groups.get(k);
      if (group) group.count++;
      else groups.set(k, { key, count: 1 });
    }
    return [...groups.values()].sort((a, b) => compareGroupKeys(by, a, b));
  }

  async reset(projection: string): Promise<void> {
    for (const collection of this.#collections.get(projection)?.values() ?? []) collection.clear();
    this.#checkpoints.delete(projection);
  }

  async close(): Promise<void> {
    // Nothing to release: the data lives as long as this object.
  }

  #collection(projection: string, collection: string): EmbeddedCollection {
    indexedFieldsOf(this.#schemas, projection, collection);
    return this.#collections.get(projection)!.get(collection)!;
  }
}
