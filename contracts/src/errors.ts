/** One failing place in a payload: a JSON pointer and what was expected there, never the value. */
export interface ViolationDetail {
  path: string;
  message: string;
}

/** An event, command or device message that does not match its contract. Details name paths, never values. */
export class ContractViolation extends Error {
  override readonly name = 'ContractViolation';
  readonly code = 'CONTRACT_VIOLATION';
  constructor(
    message: string,
    readonly details: readonly ViolationDetail[] = [],
    options?: { cause?: unknown },
  ) {
    super(
      details.length ? `${message}: ${details.map((d) => `${d.path || '/'} ${d.message}`).join('; ')}` : message,
      options,
    );
  }
}

export function isContractViolation(error: unknown): error is ContractViolation {
  return error instanceof ContractViolation;
}

/**
 * A value that cannot travel in a NATS subject token (ids become subject tokens, so `.`, `*`, `>`
 * and whitespace would let one id address another's subject). A RangeError for older callers.
 */
export class UnsafeSubjectToken extends RangeError {
  override readonly name = 'UnsafeSubjectToken';
  readonly code = 'UNSAFE_SUBJECT_TOKEN';
  constructor(what: string, pattern: string) {
    super(`${what} is not subject-safe (${pattern})`);
  }
}

/** A value that has no canonical encoding (non-finite number, lone surrogate, non-plain object...). */
export class CanonicalEncodingError extends TypeError {
  override readonly name = 'CanonicalEncodingError';
  readonly code = 'CANONICAL_ENCODING';
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(`${message} at ${path || '/'}`);
  }
}

/** A stored event that cannot be brought to the current version of its type. */
export class UpcastError extends Error {
  override readonly name = 'UpcastError';
  readonly code = 'UPCAST_FAILED';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
