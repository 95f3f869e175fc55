/**
 * Typed errors of the revocation service: a stable `code`, a `name`, an optional `cause`, and
 * key/value context (ids and counts only). Refusals of commands use the event store's
 * CommandRejected, whose `reason` the messaging layer passes to the operator as the reply code.
 */
import { CommandRejected, type ErrorContext } from '@tunnelkey/eventstore';

export class RevocationConfigError extends Error {
  override readonly name = 'RevocationConfigError';
  readonly code = 'REVOCATION_CONFIG';
  constructor(
    message: string,
    readonly context: ErrorContext = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const notFound = (what: string, context: ErrorContext) => new CommandRejected('NOT_FOUND', `${what} not found`, context);
export const refused = (reason: string, message: string, context: ErrorContext = {}) => new CommandRejected(reason, message, context);
