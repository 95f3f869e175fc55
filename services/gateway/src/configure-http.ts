import type { INestApplication } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { METRICS_REGISTRY } from '@tunnelkey/messaging';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { GatewayConfig } from './config.js';
import { consoleAssetsPath, serveConsole } from './console/serve-console.js';
import { HttpErrorFilter } from './observability/http-error.filter.js';
import { requestContext, type GatewayReply, type GatewayRequest } from './observability/request-context.js';
import { clientAddress } from './auth/auth.guard.js';
import type { RateLimits } from './auth/rate-limiter.js';
import { bytesOf, isLargeBodyRoute, readBody, smallJson, smallText } from './body-limits.js';

/** Nest's options of the gateway's app: its body parsers are `configureHttp`'s. */
export const gatewayAppOptions = { bodyParser: false } as const;

/** The HTTP app before it initialises: rate limit, body parsers, request context and metrics, the error filter, the console. */
export async function configureHttp(
  app: INestApplication,
  config: Pick<GatewayConfig, 'bodyLimit'>,
  logger: Logger,
  limits?: RateLimits,
): Promise<void> {
  const nest = app as NestFastifyApplication;
  const fastify = nest.getHttpAdapter().getInstance() as unknown as FastifyInstance;
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
  // Declared, so every request object has the same shape (Fastify's advice).
  fastify.decorateRequest('correlationId', undefined);
  fastify.decorateRequest('principal', undefined);
  const context = requestContext(logger, { requests, latency });
  fastify.addHook('onRequest', context.onRequest);
  fastify.addHook('onResponse', context.onResponse);
  // Before any body is read: requests without a token, per client address (the guard limits per token).
  if (limits) fastify.addHook('onRequest', anonymousRateLimit(limits));
  // A small body for every route before authentication: JSON and CSV/text, up to GATEWAY_BODY_LIMIT.
  // Anything else (a firmware image, a large-body route's identity file) is left unread for its
  // handler, which reads it after the guard checked the token (up to its own limit). The API takes no forms.
  const limit = bytesOf(config.bodyLimit);
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', (request, _payload, done) => {
    const raw = request.raw;
    if (isLargeBodyRoute(raw) || !(smallJson(raw) || smallText(raw))) return done(null, undefined);
    readBody(raw, limit).then(
      (body) => done(null, body),
      (error: Error) => done(error, undefined),
    );
  });
  nest.useGlobalFilters(new HttpErrorFilter(logger));
  // The web console: `/` and its assets under /console (plain ES modules, no build step).
  await serveConsole(fastify);
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
  return (request: GatewayRequest, reply: GatewayReply, done: () => void) => {
    if (request.headers.authorization !== undefined) return done();
    const url = request.url;
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    const ticket = query >= 0 && /[?&]ticket=/.test(url);
    if (probes.has(path) || ticket || consoleFile(request.method, path)) return done();
    const decision = limits.anonymous.take(`ip:${clientAddress(request)}`);
    if (decision.allowed) return done();
    void reply
      .code(429)
      .header('retry-after', String(decision.retryAfterSeconds))
      .send({
        error: {
          code: 'TOO_MANY_REQUESTS',
          message: `too many requests; retry in ${decision.retryAfterSeconds} s`,
        },
      });
  };
}
