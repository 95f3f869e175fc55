import { Inject, Injectable, Module, type DynamicModule, type OnModuleInit } from '@nestjs/common';
import { METRICS_REGISTRY, READINESS_CHECKS, type ReadinessRegistry } from '@tunnelkey/messaging';
import { Counter, type Registry } from 'prom-client';
import { AuthGuard } from './auth/auth.guard.js';
import { TokensController } from './auth/tokens.controller.js';
import { CommandsController } from './commands/commands.controller.js';
import type { GatewayRuntime } from './gateway-runtime.js';
import { LiveEventsController } from './live-events/live-events.controller.js';
import { OpenApiController } from './openapi/openapi.controller.js';
import { QueriesController } from './queries/queries.controller.js';
import { GATEWAY_RUNTIME, TOKEN_SERVICE } from './tokens.js';

/** Registers the gateway's readiness check and its projection metrics with the platform glue. */
@Injectable()
class GatewayPlatformHooks implements OnModuleInit {
  constructor(
    @Inject(GATEWAY_RUNTIME) private readonly runtime: GatewayRuntime,
    @Inject(READINESS_CHECKS) private readonly readiness: ReadinessRegistry,
    @Inject(METRICS_REGISTRY) private readonly metrics: Registry,
  ) {}

  onModuleInit(): void {
    this.readiness.add({ name: 'read-models', ready: () => this.runtime.ready() });
    if (!this.metrics.getSingleMetric('gateway_projection_events_total')) {
      const applied = new Counter({ name: 'gateway_projection_events_total', help: 'Events applied to the read models', labelNames: ['projection', 'context'], registers: [this.metrics] });
      this.runtime.readModels.onApplied((projection, context) => applied.inc({ projection, context }));
    }
  }
}

/** HTTP controllers only: the gateway answers no NATS commands itself, it sends them. */
@Module({})
export class GatewayModule {
  static forRoot(runtime: GatewayRuntime): DynamicModule {
    return {
      module: GatewayModule,
      controllers: [CommandsController, QueriesController, TokensController, LiveEventsController, OpenApiController],
      providers: [{ provide: GATEWAY_RUNTIME, useValue: runtime }, { provide: TOKEN_SERVICE, useValue: runtime.tokens }, AuthGuard, GatewayPlatformHooks],
    };
  }
}
