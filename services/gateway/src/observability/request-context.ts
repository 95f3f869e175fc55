import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Counter, Histogram } from 'prom-client';
import type { Principal } from '../auth/roles.js';

/** The parts of Express's request and response the gateway uses (express ships no types here). */
export interface GatewayRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  query: Record<string, unknown>;
  route?: { path?: string };
  /** Path parameters and the parsed small body, once routed. */
  params?: Record<string, string>;
  body?: unknown;
  principal?: Principal;
  correlationId?: string;
  socket?: { remoteAddress?: string };
}

export interface GatewayResponse {
  statusCode: number;
  headersSent: boolean;
  setHeader(name: string, value: string): void;
  on(event: 'finish', listener: () => void): void;
  status(code: number): GatewayResponse;
  json(body: unknown): void;
}

const correlationPattern = /^[A-Za-z0-9_.:-]{1,128}$/;

/**
 * Every request gets a correlation id (the caller's `x-correlation-id` when it is safe, else a new
 * one), echoed in the response and passed on as the command's correlationId. One log line per
 * request: method, route path (never the query string, which may carry an SSE ticket), status,
 * duration, actor. Headers are never logged.
 */
export function requestContext(logger: Logger, metrics: { requests: Counter<string>; latency: Histogram<string> }) {
  return (request: GatewayRequest, response: GatewayResponse, next: () => void) => {
    const given = request.headers['x-correlation-id'];
    const correlationId = typeof given === 'string' && correlationPattern.test(given) ? given : randomUUID();
    request.correlationId = correlationId;
    response.setHeader('x-correlation-id', correlationId);
    const started = process.hrtime.bigint();
    response.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const route = request.route?.path ?? 'unmatched';
      metrics.requests.inc({ method: request.method, route, status: String(response.statusCode) });
      metrics.latency.observe({ method: request.method, route }, ms / 1000);
      if (route === '/metrics' || route === '/health') return;
      logger.info(
        {
          event: 'http.request',
          correlationId,
          method: request.method,
          path: request.path,
          route,
          status: response.statusCode,
          ms: Math.round(ms * 10) / 10,
          actor: request.principal?.name,
        },
        'request',
      );
    });
    next();
  };
}
