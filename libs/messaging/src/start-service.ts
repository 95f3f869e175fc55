import type { DynamicModule, INestApplication, Type } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { MicroserviceOptions } from '@nestjs/microservices';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  connectNats,
  jetStreamReplicasFromEnv,
  natsConnectionConfig,
  natsConnectionOptions,
  type NatsConnectionConfig,
} from '@tunnelkey/config';
import type { EventStore } from '@tunnelkey/eventstore';
import { pino } from 'pino';
import { Histogram, type Registry } from 'prom-client';
import { CommandErrorFilter } from './command-error.filter.js';
import { stopOnSignals } from './graceful-shutdown.js';
import { serviceHttpAdapter } from './http-adapter.js';
import { httpsOptionsOf, type TlsFiles } from './http-edge.js';
import { JsonNestLogger, logLevelOf } from './json-nest-logger.js';
import { NatsCommandServer } from './nats-command-server.js';
import { METRICS_REGISTRY, PlatformModule } from './platform.module.js';

export interface StartServiceOptions {
  /** Service name: NATS queue group, metrics label, log name. */
  service: string;
  /** The service's root module; its providers may inject NATS_CONNECTION etc. */
  module: Type | DynamicModule;
  /** Command subjects are prefixed with it (tests, several deployments on one bus). */
  namespace?: string;
  /** An open connection to share (tests, one-process demo), else one from the environment (NATS_URL, NATS_USER... see natsConnectionOptions). */
  nats?: NatsConnection;
  /** Where the connection settings come from when no `nats` is given (default: the environment). */
  natsConfig?: NatsConnectionConfig;
  /** HTTP port for health/ready/metrics (and the API, for the gateway); default HTTP_PORT, else 0 (a free one: tests). */
  httpPort?: number;
  /** Nest's own log levels, written as JSON lines at LOG_LEVEL (default all: its `log` lines at debug); false: none. */
  logger?: false | ('error' | 'warn' | 'log')[];
  /** Runs on the HTTP app before it initialises: body parsers, HTTP filters, middleware (the gateway's API). */
  configureHttp?: (app: INestApplication) => void | Promise<void>;
  /** Nest's own JSON and form parsers (default true); false where `configureHttp` says how bodies are read. */
  bodyParser?: boolean;
  /** Interface the HTTP server binds to; default HTTP_HOST, else 127.0.0.1 (a container sets 0.0.0.0). */
  httpHost?: string;
  /** The event store to inject as EVENT_STORE; default JetStream on the connection, under `namespace`. */
  eventStore?: EventStore;
  /** PEM certificate and key of HTTPS; default TLS_CERT_FILE / TLS_KEY_FILE; neither set: plain HTTP. */
  tls?: TlsFiles;
  /** Bearer token of /metrics; default METRICS_TOKEN; unset: /metrics answers loopback requests only. */
  metricsToken?: string;
  /** Replicas of the streams and buckets the JetStream store creates; default JETSTREAM_REPLICAS, else 1. */
  streamReplicas?: number;
}

export interface RunningService {
  app: INestApplication;
  nats: NatsConnection;
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts a hybrid Nest app: HTTP (health, readiness, metrics) plus the NATS command transport,
 * sharing one NATS connection. Command errors are mapped to replies by one filter.
 */
export async function startService(options: StartServiceOptions): Promise<RunningService> {
  // Checked before anything connects: a half-configured TLS is refused, never served as plain HTTP.
  const httpsOptions = httpsOptionsOf(
    options.tls ?? { certFile: process.env.TLS_CERT_FILE, keyFile: process.env.TLS_KEY_FILE },
  );
  const metricsToken = options.metricsToken ?? process.env.METRICS_TOKEN;
  // Checked before anything connects too: a bad value names JETSTREAM_REPLICAS at start.
  const streamReplicas = options.streamReplicas ?? jetStreamReplicasFromEnv();
  const nats =
    options.nats ??
    (await connectNats(
      await natsConnectionOptions(options.natsConfig ?? natsConnectionConfig(), { name: options.service }),
    ));
  @Module({
    imports: [
      PlatformModule.forRoot({
        service: options.service,
        nats,
        ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
        ...(options.eventStore ? { eventStore: options.eventStore } : {}),
        ...(metricsToken ? { metricsToken } : {}),
        streamReplicas,
      }),
      options.module,
    ],
  })
  class ServiceRoot {}

  const log = pino({ name: options.service, level: logLevelOf() });
  // Nest's own lines as JSON too, at LOG_LEVEL, so a log pipeline reads one format.
  const logger = options.logger === false ? false : new JsonNestLogger(log, options.logger);
  const bodyParser = options.bodyParser ?? true;
  const app = await NestFactory.create(ServiceRoot, serviceHttpAdapter(httpsOptions), { logger, bodyParser });
  await options.configureHttp?.(app);
  // What the service is asked to do, in /metrics: every command by outcome, with its latency.
  const commandSeconds = new Histogram({
    name: 'command_seconds',
    help: "Operator commands answered, by command and outcome (ok or the error's code), and their latency",
    labelNames: ['command', 'outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [app.get<Registry>(METRICS_REGISTRY)],
  });
  const commands = app.connectMicroservice<MicroserviceOptions>(
    {
      strategy: new NatsCommandServer({
        connection: nats,
        queue: options.service,
        namespace: options.namespace,
        onAnswered: (command, outcome, seconds) => commandSeconds.observe({ command, outcome }, seconds),
      }),
    },
    // Deferred, or the filter below would be registered too late and silently ignored.
    { deferInitialization: true },
  );
  // Only on the command transport: HTTP errors keep Nest's own mapping.
  commands.useGlobalFilters(new CommandErrorFilter());
  // The HTTP app runs the lifecycle hooks of the shared module graph; a deferred microservice
  // would run them a second time (doubling every subscription a provider opens in onModuleInit).
  (commands as unknown as { setIsInitHookCalled(called: boolean): void }).setIsInitHookCalled(true);
  await app.startAllMicroservices();
  await app.listen(
    options.httpPort ?? Number(process.env.HTTP_PORT || 0),
    options.httpHost ?? (process.env.HTTP_HOST?.trim() || '127.0.0.1'),
  );
  const url = await app.getUrl();
  let stopped: Promise<void> | undefined;
  // SIGTERM/SIGINT: the same stop (once, however many callers: a main.ts may also call it).
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      forget();
      await app.close();
      if (!options.nats) await nats.drain();
    })());
  const forget = stopOnSignals(options.service, stop, log);
  return {
    app,
    nats,
    url: url.replace('[::1]', '127.0.0.1').replace('0.0.0.0', '127.0.0.1'),
    stop,
  };
}
