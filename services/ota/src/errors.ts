/**
 * Typed errors of the OTA service: a stable `code`, a `name`, an optional `cause`, and key/value
 * context that never carries a secret (signing keys, content keys, the KEK).
 */
import { TypedError, type ErrorContext } from '@tunnelkey/errors';

export abstract class OtaError extends TypedError {}

/** An environment variable is missing or malformed. */
export class OtaConfigError extends OtaError {
  override readonly name = 'OtaConfigError';
  readonly code = 'OTA_CONFIG';
}

/** The image object store could not be read or written. */
export class ImageStoreUnavailableError extends OtaError {
  override readonly name = 'ImageStoreUnavailableError';
  readonly code = 'IMAGE_STORE_UNAVAILABLE';
}

/** A downlink could not be sent: the service's NATS connection closed under it. */
export class DownlinkClosedError extends OtaError {
  override readonly name = 'DownlinkClosedError';
  readonly code = 'DOWNLINK_CLOSED';
}

/**
 * An operator command the service refuses; `reason` is the reply code. The name ends in
 * `Rejected` so the messaging layer passes code and message through to the operator.
 */
export class OtaCommandRejected extends OtaError {
  override readonly name = 'OtaCommandRejected';
  readonly code = 'REJECTED';
  constructor(
    readonly reason: string,
    message: string,
    context: ErrorContext = {},
  ) {
    super(message, context);
  }
}
