import { TypedError, type ErrorContext } from '@tunnelkey/errors';
export type { ErrorContext };

/** Base of the projection store's typed errors: a stable `code`, a `name`, a `cause`, context without secrets. */
export abstract class ProjectionStoreError extends TypedError {}

/** A projection or collection that was never declared with `define`. */
export class UnknownCollectionError extends ProjectionStoreError {
  override readonly name = 'UnknownCollectionError';
  readonly code = 'UNKNOWN_COLLECTION';
}

/** A filter, sort or grouping on a field without a declared index: it would not page fast on MongoDB. */
export class UnindexedQueryError extends ProjectionStoreError {
  override readonly name = 'UnindexedQueryError';
  readonly code = 'UNINDEXED_QUERY';
}

/** A query whose paging or shape is out of bounds (negative skip, limit above the maximum, ...). */
export class InvalidQueryError extends ProjectionStoreError {
  override readonly name = 'InvalidQueryError';
  readonly code = 'INVALID_QUERY';
}

/** A write that cannot be applied as given (reserved field, non-numeric increment, delete and update of one document by one event). */
export class InvalidWriteError extends ProjectionStoreError {
  override readonly name = 'InvalidWriteError';
  readonly code = 'INVALID_WRITE';
}

/** The backing database could not be reached or answered with an error we do not model. */
export class ProjectionStoreUnavailableError extends ProjectionStoreError {
  override readonly name = 'ProjectionStoreUnavailableError';
  readonly code = 'UNAVAILABLE';
}

export const isProjectionStoreError = (e: unknown): e is ProjectionStoreError => e instanceof ProjectionStoreError;
export const isUnindexedQuery = (e: unknown): e is UnindexedQueryError => e instanceof UnindexedQueryError;
export const isUnknownCollection = (e: unknown): e is UnknownCollectionError => e instanceof UnknownCollectionError;

/** A projection's `evolve` threw on an event: the event is retried (live) or the rebuild stops (replay). */
export class ProjectionEvolveError extends ProjectionStoreError {
  override readonly name = 'ProjectionEvolveError';
  readonly code = 'EVOLVE_FAILED';
}
