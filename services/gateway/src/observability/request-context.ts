import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Counter, Histogram } from 'prom-client';
import type { Principal } from '../auth/roles.js';

/** The gateway's requests (Fastify's) with what its hooks and guard add. */
export type GatewayRequest = FastifyRequest & {
  /** The authenticated caller, set by the guard. */
  principal?: Principal;
  correlationId?: string;
};

export type GatewayReply = FastifyReply;

const correlationPattern = /^[A-Za-z0-9_.:-]{1,128}$/;

/**
 * Every request gets a correlation id (the caller's `x-correlation-id` when it is safe, else a new
 * one), echoed in the response and passed on as the command's correlationId. One log line per
 * request: method, route path (never the query string, which may carry an SSE ticket), status,
 * duration, actor. Headers are never logged.
 */
export function requestContext(logger: Logger, metrics: { requests: Counter<string>; latency: Histogram<string> }) {
  return {
    onRequest(request: GatewayRequest, reply: GatewayReply, done: () => void): void {
      const given = request.headers['x-correlation-id'];
      const correlationId = typeof given === 'string' && correlationPattern.test(given) ? given : randomUUID();
      request.correlationId = correlationId;
      // On the Node response: also sent by the routes that write to it themselves (SSE).
      reply.raw.setHeader('x-correlation-id', correlationId);
      done();
    },
    onResponse(request: GatewayRequest, reply: GatewayReply, done: () => void): void {
      const ms = reply.elapsedTime;
      const route = request.routeOptions.url ?? 'unmatched';
      const status = reply.statusCode;
      metrics.requests.inc({ method: request.method, route, status: String(status) });
      metrics.latency.observe({ method: request.method, route }, ms / 1000);
      if (route !== '/metrics' && route !== '/health' && logger.isLevelEnabled('info'))
        logger.info(
          {
            event: 'http.request',
            correlationId: request.correlationId,
            method: request.method,
            path: request.url.split('?')[0],
            route,
            status,
            ms: Math.round(ms * 10) / 10,
            actor: request.principal?.name,
          },
          'request',
        );
      done();
    },
  };
}
