import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { httpStatusOf, isContractViolation } from '@tunnelkey/contracts';
import { isCommandFailed } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { GatewayError, TooManyRequests } from '../errors.js';
import type { GatewayReply, GatewayRequest } from './request-context.js';

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
  correlationId?: string;
}

/** Maps any error to `{ status, body }`: the one place the gateway turns errors into HTTP answers. */
export function errorResponse(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof TooManyRequests)
    return { status: 429, body: { error: { code: error.code, message: error.message } } };
  if (error instanceof GatewayError || isCommandFailed(error)) {
    const details = (error as { details?: unknown }).details;
    return {
      status: httpStatusOf(error.code),
      body: { error: { code: error.code, message: error.message, ...(details ? { details } : {}) } },
    };
  }
  if (isContractViolation(error))
    return { status: 400, body: { error: { code: error.code, message: error.message, details: error.details } } };
  if (error instanceof HttpException) {
    const status = error.getStatus();
    return { status, body: { error: { code: codeOfStatus(status), message: error.message } } };
  }
  return {
    status: 500,
    body: { error: { code: 'INTERNAL', message: 'internal error; see the gateway log with the correlation id' } },
  };
}

function codeOfStatus(status: number): string {
  return (
    (
      {
        400: 'MALFORMED',
        401: 'UNAUTHENTICATED',
        403: 'FORBIDDEN',
        404: 'NOT_FOUND',
        409: 'CONFLICT',
        413: 'TOO_LARGE',
        415: 'MALFORMED',
        503: 'UNAVAILABLE',
      } as Record<number, string>
    )[status] ?? (status >= 500 ? 'INTERNAL' : 'MALFORMED')
  );
}

/** The HTTP side's error filter (the command transport has its own). */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const request = host.switchToHttp().getRequest<GatewayRequest>();
    const reply = host.switchToHttp().getResponse<GatewayReply>();
    const { status, body } = errorResponse(exception);
    if (status >= 500) {
      // Name and code only: an unknown error's message may carry input.
      const error = exception as { name?: unknown; code?: unknown };
      this.logger.error(
        { event: 'http.error', correlationId: request.correlationId, status, name: error?.name, code: error?.code },
        'request failed',
      );
    }
    if (reply.sent || reply.raw.headersSent) return;
    if (exception instanceof TooManyRequests) void reply.header('retry-after', String(exception.retryAfterSeconds));
    void reply.code(status).send({ ...body, correlationId: request.correlationId });
  }
}
