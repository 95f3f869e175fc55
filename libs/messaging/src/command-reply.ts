/**
 * The reply every operator command gets over NATS request/reply. One shape for all commands so a
 * CLI, the gateway or another team's script can read any of them.
 */
export type CommandReply<R = unknown> =
  | { ok: true; result: R }
  | { ok: false; error: { code: string; message: string; details?: unknown } };

/** A command the owning service refused or could not run; `code` is stable, `message` is safe to show. */
export class CommandFailed extends Error {
  override readonly name = 'CommandFailed';
  constructor(
    readonly code: string,
    message: string,
    readonly details?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const isCommandFailed = (e: unknown): e is CommandFailed => e instanceof CommandFailed;

/** Error codes whose message is written for operators and may be passed on as is. */
const passThroughName =
  /^(CommandRejected|ContractViolation|ValidationError|ConcurrencyError|CommandFailed|[A-Za-z]+Rejected)$/;

/**
 * Maps any error to a reply. Our typed errors (with a `code`) keep their code and message; an
 * unavailable store (code UNAVAILABLE, e.g. StoreUnavailableError) is UNAVAILABLE with a generic
 * message, as a command nobody answered is; anything else becomes INTERNAL with a generic message, because an unknown error's text may carry input or
 * key material we must not echo.
 */
export function errorReply(error: unknown): CommandReply<never> {
  if (
    error instanceof Error &&
    typeof (error as { code?: unknown }).code === 'string' &&
    passThroughName.test(error.name)
  ) {
    const typed = error as Error & { code: string; details?: unknown; reason?: string };
    return {
      ok: false,
      error: {
        code: typed.reason ?? typed.code,
        message: typed.message,
        ...(typed.details !== undefined ? { details: typed.details } : {}),
      },
    };
  }
  // The store (or another dependency) did not answer: nothing was refused, and the same command
  // (same commandId: commands are idempotent) may be sent again. Its own message stays in the log.
  if (error instanceof Error && (error as { code?: unknown }).code === 'UNAVAILABLE')
    return {
      ok: false,
      error: { code: 'UNAVAILABLE', message: 'the service could not reach its store; send the command again' },
    };
  return { ok: false, error: { code: 'INTERNAL', message: 'internal error; see the service log' } };
}
