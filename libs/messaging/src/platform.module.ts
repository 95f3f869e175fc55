import {
  Controller,
  ForbiddenException,
  Get,
  Global,
  Inject,
  Module,
  Req,
  Res,
  ServiceUnavailableException,
  UnauthorizedException,
  type DynamicModule,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { NatsConnection } from '@nats-io/transport-node';
import type { EventStore } from '@tunnelkey/eventstore';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import { pino } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { ConnectionWatch } from './connection-watch.js';
import { metricsAccess } from './http-edge.js';
import { logLevelOf } from './json-nest-logger.js';
import { ReconnectCatchUp } from './reconnect-catch-up.js';
import { jetStreamLagSource, MeteredEventStore, StoreMetrics } from './store-metrics.js';

/** Injection tokens for what every service gets from the platform glue. */
export const NATS_CONNECTION = Symbol('NATS_CONNECTION');
/** How many servers of a JetStream cluster hold each stream and bucket a service creates (JETSTREAM_REPLICAS). */
export const JETSTREAM_REPLICAS = Symbol('JETSTREAM_REPLICAS');
export const SERVICE_NAME = Symbol('SERVICE_NAME');
export const METRICS_REGISTRY = Symbol('METRICS_REGISTRY');
export const READINESS_CHECKS = Symbol('READINESS_CHECKS');
/** The service's EventStore (the port): services never name the adapter behind it. */
export const EVENT_STORE = Symbol('EVENT_STORE');
/** `{ token?: string }`: the bearer token /metrics needs (METRICS_TOKEN); unset, /metrics answers loopback only. */
export const METRICS_ACCESS = Symbol('METRICS_ACCESS');

/** Something that must be true before the service takes traffic (e.g. a projection caught up). */
export interface ReadinessCheck {
  name: string;
  ready(): boolean;
}

/**
 * Services register their readiness checks here; /ready reports them all. With the service's
 * connection, it also fails `nats` while the connection is down or reconnecting, and a follower of
 * the log (`addFollower`: a view, a durable) until it has caught up after the bus came back.
 */
export class ReadinessRegistry implements OnApplicationShutdown {
  private readonly checks: ReadinessCheck[] = [];
  readonly #followers: ReconnectCatchUp[] = [];
  readonly #connection: ConnectionWatch | undefined;

  constructor(private readonly nats?: NatsConnection) {
    this.#connection = nats ? new ConnectionWatch(nats) : undefined;
  }

  add(check: ReadinessCheck): void {
    this.checks.push(check);
  }

  /** `name` is ready when `ready()` holds and, after a reconnect, once `catchUp()` has resolved. */
  addFollower(name: string, ready: () => boolean, catchUp: () => Promise<void>): void {
    const follower = this.nats ? new ReconnectCatchUp(this.nats, catchUp) : undefined;
    if (follower) this.#followers.push(follower);
    this.add({ name, ready: () => ready() && !follower?.behind });
  }

  failing(): string[] {
    const bus = this.#connection && !this.#connection.connected ? ['nats'] : [];
    return [...bus, ...this.checks.filter((check) => !check.ready()).map((check) => check.name)];
  }

  onApplicationShutdown(): void {
    this.#connection?.stop();
    for (const follower of this.#followers) follower.stop();
  }
}

@Controller()
export class HealthController {
  constructor(
    @Inject(NATS_CONNECTION) private readonly nats: NatsConnection,
    @Inject(SERVICE_NAME) private readonly service: string,
    @Inject(METRICS_REGISTRY) private readonly metrics: Registry,
    @Inject(READINESS_CHECKS) private readonly readiness: ReadinessRegistry,
    @Inject(METRICS_ACCESS) private readonly access: { token?: string | undefined },
    @Inject(HttpAdapterHost) private readonly http: HttpAdapterHost,
  ) {}

  /** Liveness: the process answers; with the version it runs (the image's TUNNELKEY_VERSION, else `dev`). */
  @Get('health')
  health() {
    return { status: 'ok', service: this.service, version: process.env.TUNNELKEY_VERSION?.trim() || 'dev' };
  }

  /** Readiness: connected to the bus (not reconnecting) and every registered check passes. */
  @Get('ready')
  ready() {
    const failing = [...(this.nats.isClosed() ? ['nats'] : []), ...this.readiness.failing()];
    if (failing.length) throw new ServiceUnavailableException({ status: 'not ready', service: this.service, failing });
    return { status: 'ready', service: this.service };
  }

  /**
   * Prometheus text format (`text/plain; version=0.0.4`: Prometheus refuses `text/html`): with
   * METRICS_TOKEN, for a request bearing it; without, for the machine itself only.
   */
  @Get('metrics')
  async prometheus(
    @Req() request: { socket?: { remoteAddress?: string }; headers: Record<string, string | string[] | undefined> },
    @Res({ passthrough: true }) response: unknown,
  ) {
    const authorization = request.headers.authorization;
    const access = metricsAccess(
      {
        remoteAddress: request.socket?.remoteAddress,
        authorization: typeof authorization === 'string' ? authorization : undefined,
      },
      this.access.token,
    );
    if (access === 'unauthenticated') throw new UnauthorizedException('/metrics needs the METRICS_TOKEN bearer token');
    if (access === 'forbidden')
      throw new ForbiddenException('/metrics answers local requests only; set METRICS_TOKEN to scrape it remotely');
    const body = await this.metrics.metrics();
    // Through the adapter: handlers do not name the framework's response type.
    this.http.httpAdapter.setHeader(response, 'Content-Type', this.metrics.contentType);
    return body;
  }
}

/** Closes the event store the platform opened, after every provider using it has stopped. */
class EventStoreCloser implements OnApplicationShutdown {
  constructor(
    private readonly store: EventStore,
    private readonly owned: boolean,
  ) {}
  async onApplicationShutdown(): Promise<void> {
    if (this.owned) await this.store.close();
  }
}

export interface PlatformModuleOptions {
  service: string;
  nats: NatsConnection;
  /** Stream and subject namespace of the event store (tests, several deployments on one bus). */
  namespace?: string;
  /** An event store to use instead of JetStream on `nats` (tests on the in-memory store, the embedded demo); its owner closes it. */
  eventStore?: EventStore;
  /** The bearer token /metrics needs (METRICS_TOKEN); unset, /metrics answers loopback requests only. */
  metricsToken?: string;
  /** Replicas of the streams and buckets the JetStream store creates (JETSTREAM_REPLICAS). Default 1. */
  streamReplicas?: number;
}

/**
 * The glue every service imports once: the shared NATS connection, its name, the event store, a
 * Prometheus registry and health/readiness/metrics endpoints.
 */
@Global()
@Module({})
export class PlatformModule {
  static forRoot(options: PlatformModuleOptions): DynamicModule {
    const store =
      options.eventStore ??
      new JetStreamEventStore(options.nats, {
        namespace: options.namespace ?? '',
        replicas: options.streamReplicas ?? 1,
        logger: pino({ name: options.service, level: logLevelOf() }),
      });
    const metrics = new Registry();
    metrics.setDefaultLabels({ service: options.service });
    collectDefaultMetrics({ register: metrics });
    // Consumer lag is read from the server the store writes to (a JetStream store; none in memory).
    const lag =
      store instanceof JetStreamEventStore
        ? jetStreamLagSource(options.nats, (context) => store.streamName(context))
        : undefined;
    const eventStore = new MeteredEventStore(store, new StoreMetrics(metrics, lag));
    const providers = [
      { provide: NATS_CONNECTION, useValue: options.nats },
      { provide: JETSTREAM_REPLICAS, useValue: options.streamReplicas ?? 1 },
      { provide: SERVICE_NAME, useValue: options.service },
      { provide: METRICS_REGISTRY, useValue: metrics },
      { provide: READINESS_CHECKS, useValue: new ReadinessRegistry(options.nats) },
      { provide: EVENT_STORE, useValue: eventStore },
    ];
    return {
      module: PlatformModule,
      controllers: [HealthController],
      providers: [
        ...providers,
        { provide: EventStoreCloser, useValue: new EventStoreCloser(store, !options.eventStore) },
        { provide: METRICS_ACCESS, useValue: { token: options.metricsToken || undefined } },
      ],
      exports: providers.map((p) => p.provide),
    };
  }
}
