import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, natsConnectionOptions } from '@tunnelkey/config';
import type { EventStore } from '@tunnelkey/eventstore';
import { startService, type RunningService } from '@tunnelkey/messaging';
import type { ProjectionStore } from '@tunnelkey/projection-store';
import { pino, type Logger } from 'pino';
import type { TokenStore } from './auth/token-store.js';
import { gatewayConfig, gatewayConfigFromEnv, type GatewayConfig } from './config.js';
import { configureHttp, gatewayAppOptions } from './configure-http.js';
import { GatewayModule } from './gateway.module.js';
import { rateLimits } from './auth/rate-limiter.js';
import { READ_MODELS } from './tokens.js';
import type { ReadModels } from './views/read-models.js';

export interface StartGatewayOptions extends Partial<GatewayConfig> {
  /** An open connection to share (tests, the one-process demo); else one to `natsUrl`. */
  nats?: NatsConnection;
  /** Where unset options are read from. Default process.env. */
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
   * MongoDB when MONGO_URL is set, else the embedded store.
   */
  projectionStore?: ProjectionStore;
  /** The event store (tests: `new InMemoryEventStore()`); default JetStream on the connection. */
  eventStore?: EventStore;
}

export interface RunningGateway {
  readonly url: string;
  readonly service: RunningService;
  readonly readModels: ReadModels;
  stop(): Promise<void>;
}

/** The configuration: the environment's, overridden by the options that are settings. */
function configOf(options: StartGatewayOptions): GatewayConfig {
  const fromEnv = gatewayConfigFromEnv(options.env ?? process.env);
  const given = Object.keys(gatewayConfig.settings).filter((key) => options[key as keyof GatewayConfig] !== undefined);
  return { ...fromEnv, ...Object.fromEntries(given.map((key) => [key, options[key as keyof GatewayConfig]])) };
}

/**
 * Starts the gateway on the platform's hybrid app: the HTTP API, SSE, OpenAPI, /health /ready
 * /metrics, and the read models fed from the log. Resolves once the read models caught up.
 */
export async function startGateway(options: StartGatewayOptions = {}): Promise<RunningGateway> {
  const config = configOf(options);
  const logger = options.logger ?? pino({ name: 'gateway', level: config.logLevel });
  const nats = options.nats ?? (await connectNats(await natsConnectionOptions(config, { name: 'gateway' })));
  const { projectionStore, tokenStore, announce, eventStore } = options;
  const limits = rateLimits(config);
  let service: RunningService;
  try {
    service = await startService({
      service: 'gateway',
      module: GatewayModule.forRoot({ config, logger, projectionStore, tokenStore, announce, limits }),
      namespace: config.namespace || undefined,
      nats,
      httpPort: config.httpPort,
      httpHost: config.httpHost,
      logger: options.nestLogger ?? ['error', 'warn'],
      bodyParser: gatewayAppOptions.bodyParser,
      configureHttp: (app) => configureHttp(app, config, logger, limits),
      tls: { certFile: config.tlsCertFile, keyFile: config.tlsKeyFile },
      ...(config.metricsToken ? { metricsToken: config.metricsToken } : {}),
      ...(eventStore ? { eventStore } : {}),
    });
  } catch (error) {
    if (!options.nats) await nats.close();
    throw error;
  }
  const stop = async () => {
    await service.stop();
    if (!options.nats) await nats.drain();
  };
  const readModels = service.app.get<ReadModels>(READ_MODELS);
  const rebuilt = readModels.start();
  if (options.skipCatchUp) {
    rebuilt.catch((error: unknown) =>
      logger.error(
        { event: 'gateway.projections_failed', error: (error as Error).name },
        'read models failed to start',
      ),
    );
  } else {
    await rebuilt.catch(async (error: unknown) => {
      await stop();
      throw error;
    });
  }
  logger.info({ event: 'gateway.started', namespace: config.namespace, url: service.url }, 'gateway started');
  return {
    url: service.url,
    service,
    readModels,
    async stop() {
      await stop();
      logger.info({ event: 'gateway.stopped' }, 'gateway stopped');
    },
  };
}
