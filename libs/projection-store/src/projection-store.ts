export type JsonScalar = string | number | boolean | null;
export type JsonValue = JsonScalar | JsonValue[] | { [key: string]: JsonValue };
/** A filter on one field: equal to a value, or to any of a list (`{ in: [...] }`, at most `maxInValues`). */
export type WhereValue = JsonScalar | { readonly in: readonly JsonScalar[] };
export const maxInValues = 1_000;

/** A read-model document: JSON, keyed by `id`. */
export type ProjectionDocument = { id: string } & { [field: string]: JsonValue };

/** One collection of a projection: the fields queries may filter, sort and group on. */
export interface CollectionSpec {
  /**
   * Indexed fields. A string is a single-field index; an array is a compound index (MongoDB uses it
   * for filter + sort together, e.g. `['batchId', 'state']`). Every field named anywhere here may
   * be used in `where`, `sort` and `countBy`.
   */
  indexes: readonly (string | readonly string[])[];
}

/** A projection's storage: its name and its collections. */
export interface ProjectionSchema {
  /** [a-z0-9-], e.g. 'device-list' (named after the query it answers). */
  name: string;
  collections: Readonly<Record<string, CollectionSpec>>;
}

/**
 * Merges fields into a document, creating it if absent. `inc` adds to numeric fields (missing
 * counts as 0), `unset` removes fields. Top-level fields only; a value replaces the field whole.
 */
export interface UpsertWrite {
  type: 'upsert';
  collection: string;
  id: string;
  set?: Readonly<Record<string, JsonValue>>;
  inc?: Readonly<Record<string, number>>;
  unset?: readonly string[];
  /** The event's stream sequence. Default: the sequence given to `commit`. */
  sequence?: number;
}

/** Removes a document. Its sequence guard is kept, so an older event redelivered cannot bring it back. */
export interface DeleteWrite {
  type: 'delete';
  collection: string;
  id: string;
  sequence?: number;
}

export type Write = UpsertWrite | DeleteWrite;

export interface CommitOptions {
  /**
   * Which event feed the sequence belongs to (a projection fed by several contexts keeps one
   * checkpoint, and one guard per document, per feed). Default: `defaultSource`.
   */
  source?: string;
}

export const defaultSource = 'main';

export interface CommitResult {
  /** Writes that changed a document. */
  applied: number;
  /** Writes skipped because the document had already seen that sequence (a redelivery). */
  skipped: number;
}

export type SortDirection = 'asc' | 'desc';

export interface FindQuery {
  /**
   * Equality on indexed fields (`null` matches a missing field; an array field matches if it contains
   * the value), or membership (`{ in: [a, b] }`: equal to any of them).
   */
  where?: Readonly<Record<string, WhereValue>>;
  /** Sorted by these indexed fields, then by id (stable pages). Default: by id. */
  sort?: readonly { field: string; direction?: SortDirection }[];
  skip?: number;
  /** Default 50, at most `maxPageSize`. */
  limit?: number;
  /**
   * Only these top-level fields (and `id`) in each item, e.g. `[]` for ids alone: a caller that
   * keeps what it derives from a document (a serialized summary) reads a page without copying them.
   * Default: every field.
   */
  select?: readonly string[];
}

export const maxPageSize = 1_000;
export const defaultPageSize = 50;

export interface Page<T> {
  items: T[];
  /** Documents matching `where`, all pages together. */
  total: number;
}

export interface GroupCount {
  /** The group's value for each `by` field (`null` when missing). */
  key: Record<string, JsonScalar>;
  count: number;
}

export interface CountByQuery {
  /** Indexed fields to group by, e.g. `['batchId', 'state']`. */
  by: readonly string[];
  where?: Readonly<Record<string, WhereValue>>;
}

/**
 * Read models' storage: named collections of JSON documents keyed by id, per projection, with the
 * projection's checkpoint (last applied stream sequence per source) next to them.
 *
 * Writes are idempotent by sequence: every document remembers, per source, the last sequence
 * applied to it, and a write whose sequence is not above it changes nothing (increments
 * included). So a batch redelivered after a crash between its data and its checkpoint applies
 * every event exactly once in effect.
 */
export interface ProjectionStore {
  readonly kind: 'embedded' | 'mongodb';
  /** Declares a projection's collections and creates their indexes. Idempotent; call before anything else on it. */
  define(schema: ProjectionSchema): Promise<void>;
  /** Last sequence applied from `source` (0 when none). */
  checkpoint(projection: string, source?: string): Promise<number>;
  /** Every source's checkpoint. */
  checkpoints(projection: string): Promise<Record<string, number>>;
  /**
   * Applies `writes` (in order), then advances the checkpoint of `source` to `sequence` (never
   * back). An empty `writes` only moves the checkpoint.
   */
  commit(
    projection: string,
    sequence: number,
    writes: readonly Write[],
    options?: CommitOptions,
  ): Promise<CommitResult>;
  get<T extends ProjectionDocument = ProjectionDocument>(
    projection: string,
    collection: string,
    id: string,
  ): Promise<T | undefined>;
  find<T extends ProjectionDocument = ProjectionDocument>(
    projection: string,
    collection: string,
    query?: FindQuery,
  ): Promise<Page<T>>;
  /** Document counts grouped by fields, sorted by key; e.g. devices per (batch, state). */
  countBy(projection: string, collection: string, query: CountByQuery): Promise<GroupCount[]>;
  /** Deletes a projection's documents and checkpoints (before a rebuild from the log). */
  reset(projection: string): Promise<void>;
  close(): Promise<void>;
}
