/** Typed errors of the broker link: a stable code, a name, a cause, and context without secrets. */
import { TypedError } from '@tunnelkey/errors';

export abstract class BrokerLinkError extends TypedError {}

/** The files, or the broker, refused the trust it was given: nothing was changed (or the broker kept its old trust). */
export class BrokerTrustRefusedError extends BrokerLinkError {
  override readonly name = 'BrokerTrustRefusedError';
  readonly code = 'BROKER_TRUST_REFUSED';
}

/** The broker's agent did not answer, or the broker did not reload (not running, not signalled in time). */
export class BrokerUnreachableError extends BrokerLinkError {
  override readonly name = 'BrokerUnreachableError';
  readonly code = 'BROKER_UNREACHABLE';
}
