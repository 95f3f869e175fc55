import { Inject, Module, type DynamicModule, type OnModuleDestroy } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { METRICS_REGISTRY, NATS_CONNECTION, READINESS_CHECKS, type ReadinessRegistry } from '@tunnelkey/messaging';
import { Counter, type Registry } from 'prom-client';
import { RevocationMsController } from './revocation-ms.controller.js';
import { RevocationRuntime, type RevocationRuntimeOptions } from './revocation-runtime.js';
import { RevocationStatusHttpController } from './revocation-status/revocation-status-http.controller.js';
import { REVOCATION_RUNTIME } from './tokens.js';

/** Everything the revocation service needs but the NATS connection, which the platform module provides. */
export type RevocationModuleOptions = Omit<RevocationRuntimeOptions, 'nats'>;

class RevocationLifecycle implements OnModuleDestroy {
  constructor(@Inject(REVOCATION_RUNTIME) private readonly runtime: RevocationRuntime) {}
  onModuleDestroy(): Promise<void> {
    return this.runtime.stop();
  }
}

const createRuntime = async (nats: NatsConnection, readiness: ReadinessRegistry, metrics: Registry, options: RevocationModuleOptions): Promise<RevocationRuntime> => {
  const steps = new Counter({ name: 'revocation_steps_total', help: 'Saga steps recorded, by step', labelNames: ['step'], registers: [metrics] });
  const runtime = await RevocationRuntime.start({
    ...options,
    nats,
    onStep: (revocationId, step) => {
      steps.inc({ step: step.type === 'CompleteStep' ? step.data.step : 'completed' });
      options.onStep?.(revocationId, step);
    },
  });
  readiness.add({ name: 'revocation-facts', ready: () => runtime.ready });
  return runtime;
};

/** The revocation service: `RevocationModule.forRoot(options)` inside startService({ service: 'revocation', ... }). */
@Module({})
export class RevocationModule {
  static forRoot(options: RevocationModuleOptions): DynamicModule {
    return {
      module: RevocationModule,
      controllers: [RevocationMsController, RevocationStatusHttpController],
      providers: [
        { provide: 'REVOCATION_MODULE_OPTIONS', useValue: options },
        { provide: REVOCATION_RUNTIME, useFactory: createRuntime, inject: [NATS_CONNECTION, READINESS_CHECKS, METRICS_REGISTRY, 'REVOCATION_MODULE_OPTIONS'] },
        RevocationLifecycle,
      ],
      exports: [REVOCATION_RUNTIME],
    };
  }
}
