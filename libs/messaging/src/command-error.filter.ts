import { Catch, type RpcExceptionFilter } from '@nestjs/common';
import { throwError, type Observable } from 'rxjs';
import { errorReply } from './command-reply.js';

/**
 * The one place command errors become replies. Nest's default RPC filter turns every non-RpcException
 * into "Internal server error", which would hide our typed refusals from the operator.
 */
@Catch()
export class CommandErrorFilter implements RpcExceptionFilter<unknown> {
  catch(exception: unknown): Observable<never> {
    return throwError(() => new MappedCommandError(errorReply(exception), exception));
  }
}

/** Carries an already-mapped reply from the filter to the transport. */
export class MappedCommandError extends Error {
  override readonly name = 'MappedCommandError';
  constructor(
    readonly reply: ReturnType<typeof errorReply>,
    cause: unknown,
  ) {
    super(reply.ok ? 'ok' : reply.error.message, { cause });
  }
}
