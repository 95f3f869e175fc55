import { CommandRejected, type ErrorContext } from '@tunnelkey/eventstore';

/**
 * Refusals use the event store's CommandRejected: the messaging filter turns its `reason` into the
 * reply's code. Upper-case codes are the well-known ones (NOT_FOUND -> 404, CONFLICT -> 409);
 * kebab-case ones are domain reasons (422).
 */
export function notFound(what: string, context: ErrorContext): CommandRejected {
  return new CommandRejected('NOT_FOUND', `${what} not found`, context);
}

export function conflict(message: string, context: ErrorContext): CommandRejected {
  return new CommandRejected('CONFLICT', message, context);
}

export function refused(reason: string, message: string, context: ErrorContext = {}): CommandRejected {
  return new CommandRejected(reason, message, context);
}
