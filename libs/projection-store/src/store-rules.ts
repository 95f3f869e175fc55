// Internal: what every adapter checks and how it interprets writes and sorts, so that all
// adapters behave alike. Not exported from the package entry.
import { InvalidQueryError, InvalidWriteError, UnindexedQueryError, UnknownCollectionError } from './errors.js';
import {
  defaultPageSize,
  maxPageSize,
  type CountByQuery,
  type FindQuery,
  type GroupCount,
  type JsonScalar,
  type JsonValue,
  maxInValues,
  type ProjectionSchema,
  type WhereValue,
  type Write,
} from './projection-store.js';

const namePattern = /^[a-z0-9][a-z0-9-]{0,62}$/;
const collectionPattern = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/;
const sourcePattern = /^[A-Za-z0-9][A-Za-z0-9_:-]{0,62}$/;
const fieldPattern = /^[A-Za-z][A-Za-z0-9_]{0,127}$/;
const reservedFields = new Set(['id', '_id', '_seq', '_deleted']);

/** The schema's fields usable in queries, per collection. */
export type IndexedFields = ReadonlyMap<string, ReadonlySet<string>>;

export function checkSchema(schema: ProjectionSchema): IndexedFields {
  if (!namePattern.test(schema.name))
    throw new InvalidWriteError('projection names are [a-z0-9-], 1-63 characters', {
      projection: schema.name.slice(0, 64),
    });
  const fields = new Map<string, Set<string>>();
  for (const [collection, spec] of Object.entries(schema.collections)) {
    if (!collectionPattern.test(collection))
      throw new InvalidWriteError('collection names are [A-Za-z0-9_-], starting with a letter', {
        projection: schema.name,
        collection,
      });
    const indexed = new Set<string>(['id']);
    for (const index of spec.indexes) {
      for (const field of typeof index === 'string' ? [index] : index) {
        if (!fieldPattern.test(field) || reservedFields.has(field))
          throw new InvalidWriteError('indexed field names are [A-Za-z0-9_], not reserved', {
            projection: schema.name,
            collection,
            field,
          });
        indexed.add(field);
      }
    }
    fields.set(collection, indexed);
  }
  return fields;
}

export function checkSource(source: string): string {
  if (!sourcePattern.test(source))
    throw new InvalidWriteError('source names are [A-Za-z0-9_:-]', { source: source.slice(0, 64) });
  return source;
}

export function indexedFieldsOf(
  defined: ReadonlyMap<string, IndexedFields>,
  projection: string,
  collection: string,
): ReadonlySet<string> {
  const fields = defined.get(projection)?.get(collection);
  if (!fields)
    throw new UnknownCollectionError('projection collection not defined (call define first)', {
      projection,
      collection,
    });
  return fields;
}

function requireIndexed(indexed: ReadonlySet<string>, field: string, use: string, collection: string): void {
  if (!indexed.has(field))
    throw new UnindexedQueryError(`${use} on a field without a declared index`, { collection, field });
}

/** A filter as adapters apply it: the field, and the values it may equal (one for an equality). */
export type NormalizedFilter = [field: string, values: readonly JsonScalar[]];

export interface NormalizedFind {
  where: NormalizedFilter[];
  sort: { field: string; direction: 1 | -1 }[];
  skip: number;
  limit: number;
  /** Fields to return besides id; undefined: all. */
  select: readonly string[] | undefined;
}

/** Checks a find query against the declared indexes and fills its defaults. Sort always ends with id. */
export function normalizeFind(indexed: ReadonlySet<string>, collection: string, query: FindQuery = {}): NormalizedFind {
  const where = Object.entries(query.where ?? {}).map(([field, value]): NormalizedFilter => {
    requireIndexed(indexed, field, 'filter', collection);
    return [field, valuesOf(value, collection, field)];
  });
  const sort = (query.sort ?? []).map(({ field, direction }) => {
    requireIndexed(indexed, field, 'sort', collection);
    return { field, direction: direction === 'desc' ? (-1 as const) : (1 as const) };
  });
  if (!sort.some((s) => s.field === 'id')) sort.push({ field: 'id', direction: 1 });
  const skip = query.skip ?? 0;
  const limit = query.limit ?? defaultPageSize;
  if (!Number.isInteger(skip) || skip < 0)
    throw new InvalidQueryError('skip is a non-negative integer', { collection, skip });
  if (!Number.isInteger(limit) || limit < 1 || limit > maxPageSize)
    throw new InvalidQueryError(`limit is an integer from 1 to ${maxPageSize}`, { collection, limit });
  const select = query.select?.filter((field) => field !== 'id');
  for (const field of select ?? [])
    if (typeof field !== 'string' || !fieldPattern.test(field) || reservedFields.has(field))
      throw new InvalidQueryError('select names document fields ([A-Za-z0-9_], not reserved)', { collection });
  return { where, sort, skip, limit, select };
}

function isScalar(value: unknown): value is JsonScalar {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

function valuesOf(value: WhereValue, collection: string, field: string): readonly JsonScalar[] {
  if (isScalar(value)) return [value];
  const list = (value as { in?: unknown }).in;
  if (Array.isArray(list) && list.length <= maxInValues && list.every(isScalar)) return list;
  throw new InvalidQueryError(`filters are equalities on scalar values or { in: [at most ${maxInValues} scalars] }`, {
    collection,
    field,
  });
}

export function normalizeCountBy(
  indexed: ReadonlySet<string>,
  collection: string,
  query: CountByQuery,
): { by: string[]; where: NormalizedFilter[] } {
  if (query.by.length === 0) throw new InvalidQueryError('countBy needs at least one field', { collection });
  for (const field of query.by) requireIndexed(indexed, field, 'grouping', collection);
  return { by: [...query.by], where: normalizeFind(indexed, collection, { where: query.where }).where };
}

/** One document's change for one sequence: what both adapters apply under the guard. */
export interface DocumentChange {
  collection: string;
  id: string;
  sequence: number;
  delete: boolean;
  set: Record<string, JsonValue>;
  inc: Record<string, number>;
  unset: string[];
}

function checkField(field: string, write: Write): void {
  if (!fieldPattern.test(field) || reservedFields.has(field)) {
    throw new InvalidWriteError('document fields are [A-Za-z0-9_], starting with a letter, not id/_id/_seq/_deleted', {
      collection: write.collection,
      id: write.id,
      field,
    });
  }
}

/**
 * Checks writes and merges those of one sequence on one document into one change: the guard is
 * "sequence above the document's last", so a second write of the same sequence would otherwise
 * be skipped as a redelivery.
 */
export function toChanges(
  projectionCollections: ReadonlyMap<string, ReadonlySet<string>>,
  projection: string,
  commitSequence: number,
  writes: readonly Write[],
): DocumentChange[] {
  if (!Number.isSafeInteger(commitSequence) || commitSequence < 0)
    throw new InvalidWriteError('a commit sequence is a non-negative integer', { projection });
  const changes: DocumentChange[] = [];
  const open = new Map<string, DocumentChange>();
  for (const write of writes) {
    if (!projectionCollections.has(write.collection))
      throw new UnknownCollectionError('write to an undeclared collection', {
        projection,
        collection: write.collection,
      });
    if (typeof write.id !== 'string' || write.id.length === 0 || write.id.length > 256)
      throw new InvalidWriteError('document ids are 1-256 characters', { projection, collection: write.collection });
    const sequence = write.sequence ?? commitSequence;
    if (!Number.isSafeInteger(sequence) || sequence < 1)
      throw new InvalidWriteError('a write sequence is a positive integer', {
        projection,
        collection: write.collection,
        id: write.id,
      });
    const key = `${write.collection}\u0000${write.id}\u0000${sequence}`;
    let change = open.get(key);
    if (change && (change.delete || write.type === 'delete')) {
      throw new InvalidWriteError('one event either deletes a document or updates it, not both', {
        projection,
        collection: write.collection,
        id: write.id,
        sequence,
      });
    }
    if (!change) {
      change = {
        collection: write.collection,
        id: write.id,
        sequence,
        delete: write.type === 'delete',
        set: {},
        inc: {},
        unset: [],
      };
      open.set(key, change);
      changes.push(change);
    }
    if (write.type === 'delete') continue;
    for (const [field, value] of Object.entries(write.set ?? {})) {
      checkField(field, write);
      if (value === undefined)
        throw new InvalidWriteError('undefined is not JSON: use unset', {
          projection,
          collection: write.collection,
          id: write.id,
          field,
        });
      delete change.inc[field];
      change.unset = change.unset.filter((f) => f !== field);
      change.set[field] = value;
    }
    for (const [field, by] of Object.entries(write.inc ?? {})) {
      checkField(field, write);
      if (typeof by !== 'number' || !Number.isFinite(by))
        throw new InvalidWriteError('increments are finite numbers', {
          projection,
          collection: write.collection,
          id: write.id,
          field,
        });
      if (field in change.set) {
        const current = change.set[field];
        change.set[field] = (typeof current === 'number' ? current : 0) + by;
      } else if (change.unset.includes(field)) {
        // Removed earlier in this event: counts from 0 again.
        change.unset = change.unset.filter((f) => f !== field);
        change.set[field] = by;
      } else {
        change.inc[field] = (change.inc[field] ?? 0) + by;
      }
    }
    for (const field of write.unset ?? []) {
      checkField(field, write);
      delete change.set[field];
      delete change.inc[field];
      if (!change.unset.includes(field)) change.unset.push(field);
    }
  }
  return changes;
}

// Sort order of MongoDB for the JSON types: null (and missing) < numbers < strings < objects < arrays < booleans.
function typeRank(value: unknown): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'number') return 1;
  if (typeof value === 'string') return 2;
  if (Array.isArray(value)) return 4;
  if (typeof value === 'object') return 3;
  return 5;
}

/** Compares two field values the way MongoDB sorts scalars (strings by code unit, close to its binary order). */
export function compareValues(a: unknown, b: unknown): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 1 || ra === 5) return Number(a) - Number(b);
  if (ra === 2) return a === b ? 0 : (a as string) < (b as string) ? -1 : 1;
  if (ra === 0) return 0;
  const sa = JSON.stringify(a);
  const sb = JSON.stringify(b);
  return sa === sb ? 0 : sa < sb ? -1 : 1;
}

export function compareGroupKeys(by: readonly string[], a: GroupCount, b: GroupCount): number {
  for (const field of by) {
    const c = compareValues(a.key[field], b.key[field]);
    if (c !== 0) return c;
  }
  return 0;
}
