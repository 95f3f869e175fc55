/**
 * Refusals of the revocation service's commands and queries: the event store's CommandRejected,
 * whose `reason` the messaging layer passes to the operator as the reply code. (Configuration
 * errors are @tunnelkey/config's ConfigError.)
 */
import { CommandRejected, type ErrorContext } from '@tunnelkey/eventstore';

export const notFound = (what: string, context: ErrorContext) =>
  new CommandRejected('NOT_FOUND', `${what} not found`, context);
export const refused = (reason: string, message: string, context: ErrorContext = {}) =>
  new CommandRejected(reason, message, context);
