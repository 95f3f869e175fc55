import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { METRICS_REGISTRY } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { GatewayConfig } from './config.js';
import { consoleAssetsPath, serveConsole } from './console/serve-console.js';
import { HttpErrorFilter } from './observability/http-error.filter.js';
import { requestContext, type GatewayRequest, type GatewayResponse } from './observability/request-context.js';
import { clientAddress } from './auth/auth.guard.js';
import type { RateLimits } from './auth/rate-limiter.js';
import { smallJson, smallText } from './body-limits.js';

/** The HTTP app before it initialises: rate limit, body parsers, request context and metrics, the error filter, the console. */
export function configureHttp(
  app: INestApplication,
  config: Pick<GatewayConfig, 'bodyLimit'>,
  logger: Logger,
  limits?: RateLimits,
): void {
  const express = app as NestExpressApplication;
  // Before any body is read: requests without a token, per client address (the guard limits per token).
  if (limits) express.use(anonymousRateLimit(limits));
  // A small body for every route before authentication. Identity files (large-body routes) are
  // read by their handler after the guard, up to GATEWAY_IMPORT_BODY_LIMIT.
  express.useBodyParser('json', { limit: config.bodyLimit, type: smallJson });
  express.useBodyParser('text', { limit: config.bodyLimit, type: smallText });
  // Named as Nest names its own, so Nest adds no default urlencoded parser: the API takes no forms.
  express.useBodyParser('urlencoded', { limit: config.bodyLimit, type: () => false });
  const metrics = app.get<Registry>(METRICS_REGISTRY);
  const requests = new Counter({
    name: 'gateway_http_requests_total',
    help: 'HTTP requests',
    labelNames: ['method', 'route', 'status'],
    registers: [metrics],
  });
  const latency = new Histogram({
    name: 'gateway_http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [metrics],
  });
  express.use(requestContext(logger, { requests, latency }));
  express.useGlobalFilters(new HttpErrorFilter(logger));
  // The web console: `/` and its assets under /console (plain ES modules, no build step).
  serveConsole(express);
  express.disable('x-powered-by');
  // No ETag from hashing each response body: a SHA-1 of every answer (some 20 KB for a page of the
  // device list) that no client of the API sends back (bench:api, issue 19). The console's files
  // keep conditional GETs: express.static tags them itself, the page answers If-Modified-Since.
  express.set('etag', false);
}

const probes = new Set(['/health', '/ready']);

/**
 * The console's own files (the page and its modules, fetched before anyone signs in): one page load
 * is some forty files, so counting them spent a browser's budget for failed logins at once (the
 * console answered 429 for its own modules on a reload). They show nothing of anyone's.
 */
const consoleFile = (method: string | undefined, path: string) =>
  (method === 'GET' || method === 'HEAD') &&
  (path === '/' || path === '/index.html' || path.startsWith(`${consoleAssetsPath}/`));

/** Requests with no Authorization header and no ticket, per client address: 429 + Retry-After past the rate. */
function anonymousRateLimit(limits: RateLimits) {
  return (request: GatewayRequest & { url?: string }, response: GatewayResponse, next: () => void) => {
    const path = (request.url ?? '').split('?')[0]!;
    const ticket = /[?&]ticket=/.test(request.url ?? '');
    if (probes.has(path) || request.headers.authorization !== undefined || ticket) return next();
    if (consoleFile(request.method, path)) return next();
    const decision = limits.anonymous.take(`ip:${clientAddress(request)}`);
    if (decision.allowed) return next();
    response.setHeader('retry-after', String(decision.retryAfterSeconds));
    response.status(429).json({
      error: {
        code: 'TOO_MANY_REQUESTS',
        message: `too many requests; retry in ${decision.retryAfterSeconds} s`,
      },
    });
  };
}
