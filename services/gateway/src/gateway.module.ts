import { Module, type DynamicModule } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { defaultMaxFirmwareImageBytes } from '@tunnelkey/contracts';
import type { EventStore } from '@tunnelkey/eventstore';
import {
  CommandClient,
  EVENT_STORE,
  METRICS_REGISTRY,
  JETSTREAM_REPLICAS,
  NATS_CONNECTION,
  READINESS_CHECKS,
  type ReadinessRegistry,
} from '@tunnelkey/messaging';
import { projectionStoreFromEnv, type ProjectionStore } from '@tunnelkey/projection-store';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { AuthGuard } from './auth/auth.guard.js';
import { TokenService } from './auth/token-service.js';
import { KvTokenStore, type TokenStore } from './auth/token-store.js';
import { TokensController } from './auth/tokens.controller.js';
import { CommandSender } from './commands/command-sender.js';
import { CommandsController } from './commands/commands.controller.js';
import { KvIdempotencyStore } from './commands/idempotency/idempotency-store.js';
import type { GatewayConfig } from './config.js';
import { LiveEventsController } from './live-events/live-events.controller.js';
import { FleetPulse } from './live-events/fleet-pulse.js';
import { LiveUpdates } from './live-events/live-updates.js';
import { FIRMWARE_UPLOADS, FirmwareUploadController, FirmwareUploads } from './firmware/firmware-upload.controller.js';
import { RolloutEventsController } from './firmware/rollout-events.controller.js';
import { OpenApiController } from './openapi/openapi.controller.js';
import { QueriesController } from './queries/queries.controller.js';
import {
  COMMAND_SENDER,
  FLEET_PULSE,
  IMPORT_BODY_LIMIT,
  LIVE_UPDATES,
  OWNERSHIP,
  RATE_LIMITS,
  READ_MODELS,
  TOKEN_SERVICE,
} from './tokens.js';
import { OwnerDirectory } from './owners/owner-directory.js';
import { OwnershipCheck } from './owners/ownership.js';
import { rolloutDevicesVia } from './owners/rollout-devices.js';
import { rateLimits, type RateLimits } from './auth/rate-limiter.js';
import { bytesOf } from './body-limits.js';
import { ReadModels } from './views/read-models.js';

export interface GatewayModuleOptions {
  config: GatewayConfig;
  logger: Logger;
  /** Where the read models live, left open at stop; default from the config (MongoDB or embedded), closed at stop. */
  projectionStore?: ProjectionStore;
  /** Default: the KV bucket of the namespace. */
  tokenStore?: TokenStore;
  /** Where a generated bootstrap admin token is shown once (default stdout). */
  announce?: (message: string) => void;
  /** Largest firmware upload (default: 64 MiB, the OTA service's default OTA_MAX_IMAGE_BYTES). */
  firmwareUploadLimit?: number;
  /** The request rate limits the HTTP middleware shares (default: from the config). */
  limits?: RateLimits;
}

/**
 * The gateway: HTTP controllers only (it answers no NATS commands, it sends them), the read
 * models on the projection store (registered as a readiness check; rebuilt from the application
 * bootstrap on), the live updates derived from them, the command sender and the API tokens.
 */
@Module({})
export class GatewayModule {
  static forRoot(options: GatewayModuleOptions): DynamicModule {
    const { config, logger } = options;
    return {
      module: GatewayModule,
      controllers: [
        CommandsController,
        QueriesController,
        TokensController,
        LiveEventsController,
        OpenApiController,
        FirmwareUploadController,
        RolloutEventsController,
      ],
      providers: [
        {
          provide: READ_MODELS,
          inject: [EVENT_STORE, READINESS_CHECKS, METRICS_REGISTRY],
          useFactory: async (events: EventStore, readiness: ReadinessRegistry, metrics: Registry) => {
            const store =
              options.projectionStore ??
              (await projectionStoreFromEnv({ MONGO_URL: config.mongoUrl, MONGO_DATABASE: config.mongoDatabase }));
            logger.info({ event: 'gateway.projection_store', kind: store.kind }, 'read models stored');
            const readModels = new ReadModels({ events, store, logger, closeStore: !options.projectionStore });
            readiness.add({ name: 'read-models', ready: () => readModels.ready });
            const help = 'Events applied to the read models';
            const applied = new Counter({
              name: 'gateway_projection_events_total',
              help,
              labelNames: ['projection', 'context'],
              registers: [metrics],
            });
            readModels.onApplied((projection, context) => applied.inc({ projection, context }));
            return readModels;
          },
        },
        {
          provide: LIVE_UPDATES,
          inject: [READ_MODELS],
          useFactory: (readModels: ReadModels) => new LiveUpdates(readModels),
        },
        {
          provide: FLEET_PULSE,
          inject: [READ_MODELS],
          useFactory: (readModels: ReadModels) => new FleetPulse(readModels),
        },
        {
          provide: COMMAND_SENDER,
          inject: [NATS_CONNECTION, JETSTREAM_REPLICAS],
          useFactory: async (nats: NatsConnection, replicas: number) =>
            new CommandSender(
              new CommandClient(nats),
              config.namespace,
              logger,
              await KvIdempotencyStore.open(nats, config.namespace, { replicas }),
            ),
        },
        {
          provide: OWNERSHIP,
          inject: [READ_MODELS, COMMAND_SENDER],
          useFactory: (readModels: ReadModels, sender: CommandSender) =>
            new OwnershipCheck(new OwnerDirectory(readModels, rolloutDevicesVia(sender)), () => readModels.catchUp()),
        },
        {
          provide: TOKEN_SERVICE,
          inject: [NATS_CONNECTION, JETSTREAM_REPLICAS],
          useFactory: async (nats: NatsConnection, replicas: number) => {
            const tokens = new TokenService({
              store: options.tokenStore ?? (await KvTokenStore.open(nats, config.namespace, { replicas })),
              ...(config.adminToken ? { bootstrapAdminToken: config.adminToken } : {}),
              ...(config.ticketKey ? { ticketKey: config.ticketKey } : {}),
              logger,
              ...(options.announce ? { announce: options.announce } : {}),
            });
            await tokens.bootstrap();
            return tokens;
          },
        },
        {
          provide: FIRMWARE_UPLOADS,
          inject: [NATS_CONNECTION, JETSTREAM_REPLICAS],
          useFactory: (nats: NatsConnection, replicas: number) =>
            new FirmwareUploads(nats, config.namespace, options.firmwareUploadLimit ?? defaultMaxFirmwareImageBytes, {
              replicas,
            }),
        },
        { provide: RATE_LIMITS, useValue: options.limits ?? rateLimits(config) },
        { provide: IMPORT_BODY_LIMIT, useValue: bytesOf(config.importBodyLimit) },
        AuthGuard,
      ],
    };
  }
}
