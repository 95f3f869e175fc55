/**
 * Typed errors of the CA service: a stable `code`, a `name`, an optional `cause`, and key/value
 * context that never carries key material (it is logged and may end up in replies).
 */
import { TypedError, type ErrorContext } from '@tunnelkey/errors';
export type CaErrorContext = ErrorContext;

export abstract class CaError extends TypedError {}

/** An environment variable is missing or malformed. */
export class CaConfigError extends CaError {
  override readonly name = 'CaConfigError';
  readonly code = 'CA_CONFIG';
}

/** An authority cannot sign: its key is offline (exported), not in the key store, or not its certificate's key. */
export class AuthorityUnavailableError extends CaError {
  override readonly name = 'AuthorityUnavailableError';
  readonly code = 'UNAVAILABLE';
}

/**
 * An operator command the CA refuses (the reply carries `reason` as its code). The name ends in
 * `Rejected` so the messaging layer passes code and message through to the operator.
 */
export class CaCommandRejected extends CaError {
  override readonly name = 'CaCommandRejected';
  readonly code = 'REJECTED';
  constructor(
    readonly reason: string,
    message: string,
    context: CaErrorContext = {},
  ) {
    super(message, context);
  }
}

export const isAuthorityUnavailable = (e: unknown): e is AuthorityUnavailableError =>
  e instanceof AuthorityUnavailableError;
