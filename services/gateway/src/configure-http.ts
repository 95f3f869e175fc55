import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { METRICS_REGISTRY } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { GatewayConfig } from './config.js';
import { serveConsole } from './console/serve-console.js';
import { HttpErrorFilter } from './observability/http-error.filter.js';
import { requestContext } from './observability/request-context.js';

/** The HTTP app before it initialises: body parsers, request context and metrics, the error filter, the console. */
export function configureHttp(app: INestApplication, config: Pick<GatewayConfig, 'bodyLimit'>, logger: Logger): void {
  const express = app as NestExpressApplication;
  // Identity files are large: 10,000 rows are a few MB of JSON or CSV.
  express.useBodyParser('json', { limit: config.bodyLimit });
  express.useBodyParser('text', { limit: config.bodyLimit, type: ['text/csv', 'text/plain'] });
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
}
