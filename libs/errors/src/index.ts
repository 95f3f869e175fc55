/**
 * The one base of tunnelkey's typed errors (nats.js style): a stable `code` for programs, the
 * subclass's own `name`, an optional `cause`, and key/value context for logs and replies. Context
 * and messages never carry secrets (keys, tokens, response bits): they are logged.
 * Each library or service derives its own abstract base from it, so `instanceof PkiError` etc.
 * keep telling whose error it is.
 */
export type ErrorContext = Readonly<Record<string, string | number | boolean | undefined>>;

export abstract class TypedError extends Error {
  abstract readonly code: string;
  constructor(
    message: string,
    readonly context: ErrorContext = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A short, secret-free description of any thrown value, for logs, error contexts and event details. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 500);
  return String(error).slice(0, 200);
}
