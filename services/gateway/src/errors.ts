/** Typed errors of the gateway: a stable `code` (mapped to HTTP once, in the error filter), `name`, `cause`, no secrets. */
export abstract class GatewayError extends Error {
  abstract readonly code: string;
  constructor(
    message: string,
    readonly details?: readonly { path?: string; message?: string; row?: number }[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The request does not match the route's contract (body, query, path, header). */
export class BadRequest extends GatewayError {
  override readonly name = 'BadRequest';
  readonly code = 'MALFORMED';
}

export class NotFound extends GatewayError {
  override readonly name = 'NotFound';
  readonly code = 'NOT_FOUND';
}

/** No token, an unknown or revoked token, or an expired SSE ticket. */
export class Unauthenticated extends GatewayError {
  override readonly name = 'Unauthenticated';
  readonly code = 'UNAUTHENTICATED';
}

/** The token's role does not allow the route. */
export class Forbidden extends GatewayError {
  override readonly name = 'Forbidden';
  readonly code = 'FORBIDDEN';
}

/** An Idempotency-Key the caller already used for a different request (422: nothing is sent). */
export class IdempotencyKeyReused extends GatewayError {
  override readonly name = 'IdempotencyKeyReused';
  readonly code = 'idempotency-key-reused';
}

/** A request body past its route's limit (413). */
export class TooLarge extends GatewayError {
  override readonly name = 'TooLarge';
  readonly code = 'TOO_LARGE';
}

/** Past the caller's request rate (429); `retryAfterSeconds` goes in the Retry-After header. */
export class TooManyRequests extends GatewayError {
  override readonly name = 'TooManyRequests';
  readonly code = 'TOO_MANY_REQUESTS';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

export class ReadModelNotReady extends GatewayError {
  override readonly name = 'ReadModelNotReady';
  readonly code = 'UNAVAILABLE';
}
