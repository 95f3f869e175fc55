import { TypedError, type ErrorContext } from '@tunnelkey/errors';
export type { ErrorContext };

/** Base of the event store's typed errors: a stable `code`, a `name`, a `cause`, context without secrets. */
export abstract class EventStoreError extends TypedError {}

/** The aggregate moved on since it was read: reload, decide again, retry. */
export class ConcurrencyError extends EventStoreError {
  override readonly name = 'ConcurrencyError';
  readonly code = 'CONCURRENCY';
}

/** An event failed its contract; nothing was written. */
export class ValidationError extends EventStoreError {
  override readonly name = 'ValidationError';
  readonly code = 'VALIDATION';
}

/** The decider refused the command; nothing was written. */
export class CommandRejected extends EventStoreError {
  override readonly name = 'CommandRejected';
  readonly code = 'REJECTED';
  constructor(
    readonly reason: string,
    message: string,
    context: ErrorContext = {},
  ) {
    super(message, context);
  }
}

/** The store could not be reached or answered with an error we do not model. */
export class StoreUnavailableError extends EventStoreError {
  override readonly name = 'StoreUnavailableError';
  readonly code = 'UNAVAILABLE';
}

/** A durable subscription cannot be (re)started as asked, e.g. its name is taken with another filter. */
export class SubscriptionError extends EventStoreError {
  override readonly name = 'SubscriptionError';
  readonly code = 'SUBSCRIPTION';
}

export const isConcurrencyError = (e: unknown): e is ConcurrencyError => e instanceof ConcurrencyError;
export const isValidationError = (e: unknown): e is ValidationError => e instanceof ValidationError;
export const isCommandRejected = (e: unknown): e is CommandRejected => e instanceof CommandRejected;
export const isStoreUnavailable = (e: unknown): e is StoreUnavailableError => e instanceof StoreUnavailableError;

export { describeError } from '@tunnelkey/errors';
