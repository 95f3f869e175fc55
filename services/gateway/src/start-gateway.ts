import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import { projectionStoreFromEnv, type ProjectionStore } from '@tunnelkey/projection-store';
import { CommandClient, METRICS_REGISTRY, startService, type RunningService } from '@tunnelkey/messaging';
import { pino, type Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import { TokenService } from './auth/token-service.js';
import { KvTokenStore, type TokenStore } from './auth/token-store.js';
import { CommandSender } from './commands/command-sender.js';
import { serveConsole } from './console/serve-console.js';
import { gatewayConfigFromEnv, type GatewayConfig } from './config.js';
import type { GatewayRuntime } from './gateway-runtime.js';
import { GatewayModule } from './gateway.module.js';
import { LiveFeed } from './live-events/live-feed.js';
import { HttpErrorFilter } from './observability/http-error.filter.js';
import { requestContext } from './observability/request-context.js';
import { catalogProjection } from './projections/catalog.projection.js';
import { fleetProjection } from './projections/fleet.projection.js';
import { ReadModels } from './read-model/read-models.js';

export interface StartGatewayOptions extends Partial<GatewayConfig> {
  /** An open connection to share (tests, the one-process demo); else one to `natsUrl`. */
  nats?: NatsConnection;
  env?: Record<string, string | undefined>;
  logger?: Logger;
  /** Default: a KV bucket of the namespace. */
  tokenStore?: TokenStore;
  /** Where a generated bootstrap admin token is shown once (default stdout). */
  announce?: (message: string) => void;
  nestLogger?: false | ('error' | 'warn' | 'log')[];
  /** Resolve before the read models caught up (default: wait, so the first query sees the log). */
  skipCatchUp?: boolean;
  /**
   * Where the read models live, kept open at stop (tests: restart against the same store). Default:
   * `projectionStoreFromEnv(env)`: MongoDB when MONGO_URL is set, else the embedded store.
   */
  projectionStore?: ProjectionStore;
  /**
   * Durable name prefix of a store that outlives the process (default `gateway`): a restart resumes
   * at the stored checkpoints. The embedded store made here gets a per-process name instead.
   */
  projectionDurable?: string;
}

export interface RunningGateway {
  readonly url: string;
  readonly service: RunningService;
  readonly runtime: GatewayRuntime;
  stop(): Promise<void>;
}

/**
 * Starts the gateway on the platform's hybrid app: the HTTP API, SSE, OpenAPI, /health /ready
 * /metrics, and the read models fed from the log. Resolves once the read models caught up.
 */
export async function startGateway(options: StartGatewayOptions = {}): Promise<RunningGateway> {
  const env = options.env ?? process.env;
  const defined = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
  const config: GatewayConfig = { ...gatewayConfigFromEnv(env), ...(defined as Partial<GatewayConfig>) };
  const logger = options.logger ?? pino({ name: 'gateway', level: config.logLevel });
  const nats = options.nats ?? (await connect({ servers: config.natsUrl, name: 'gateway' }));
  const eventStore = new JetStreamEventStore(nats, { namespace: config.namespace, logger });
  const projectionStore = options.projectionStore ?? (await projectionStoreFromEnv(env));
  // The embedded store made here dies with the process: its durables are per process, deleted at stop.
  const ephemeralDurables = !options.projectionStore && projectionStore.kind === 'embedded';
  const readModels = new ReadModels({
    nats,
    events: eventStore,
    store: projectionStore,
    projections: [fleetProjection, catalogProjection],
    durable: ephemeralDurables ? `gw-${randomBytes(4).toString('hex')}` : (options.projectionDurable ?? 'gateway'),
    ephemeralDurables,
    logger,
  });
  logger.info({ event: 'gateway.projection_store', kind: projectionStore.kind }, 'read models stored');
  const closeStore = async () => {
    if (!options.projectionStore) await projectionStore.close();
  };
  const tokens = new TokenService({
    store: options.tokenStore ?? (await KvTokenStore.open(nats, config.namespace)),
    ...(config.adminToken ? { bootstrapAdminToken: config.adminToken } : {}),
    ...(config.ticketKey ? { ticketKey: config.ticketKey } : {}),
    logger,
    ...(options.announce ? { announce: options.announce } : {}),
  });
  await tokens.bootstrap();
  const live = new LiveFeed(readModels);
  const runtime: GatewayRuntime = {
    namespace: config.namespace,
    logger,
    eventStore,
    readModels,
    commands: new CommandSender(new CommandClient(nats), config.namespace, logger),
    tokens,
    live,
    ready: () => readModels.caughtUp,
  };
  let service: RunningService;
  try {
    service = await startService({
      service: 'gateway',
      module: GatewayModule.forRoot(runtime),
      namespace: config.namespace || undefined,
      nats,
      httpPort: config.httpPort,
      httpHost: config.httpHost,
      logger: options.nestLogger ?? ['error', 'warn'],
      configureHttp: (app) => configureHttp(app, config, logger),
    });
  } catch (error) {
    live.close();
    await closeStore();
    if (!options.nats) await nats.close();
    throw error;
  }
  const catchUp = readModels.start();
  if (options.skipCatchUp) catchUp.catch((error: unknown) => logger.error({ event: 'gateway.projections_failed', error: (error as Error).name }, 'read models failed to start'));
  else await catchUp;
  logger.info({ event: 'gateway.started', namespace: config.namespace, url: service.url }, 'gateway started');
  return {
    url: service.url,
    service,
    runtime,
    async stop() {
      await readModels.stop();
      live.close();
      await closeStore();
      eventStore.close();
      await service.stop();
      if (!options.nats) await nats.drain();
      logger.info({ event: 'gateway.stopped' }, 'gateway stopped');
    },
  };
}

function configureHttp(app: INestApplication, config: GatewayConfig, logger: Logger): void {
  const express = app as NestExpressApplication;
  // Identity files are large: 10,000 rows are a few MB of JSON or CSV.
  express.useBodyParser('json', { limit: config.bodyLimit });
  express.useBodyParser('text', { limit: config.bodyLimit, type: ['text/csv', 'text/plain'] });
  const metrics = app.get<Registry>(METRICS_REGISTRY);
  const requests = new Counter({ name: 'gateway_http_requests_total', help: 'HTTP requests', labelNames: ['method', 'route', 'status'], registers: [metrics] });
  const latency = new Histogram({ name: 'gateway_http_request_duration_seconds', help: 'HTTP request latency', labelNames: ['method', 'route'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [metrics] });
  express.use(requestContext(logger, { requests, latency }));
  express.useGlobalFilters(new HttpErrorFilter(logger));
  // The web console: `/` and its assets under /console (plain ES modules, no build step).
  serveConsole(express);
  express.disable('x-powered-by');
}
