import { Inject, Module, type DynamicModule, type OnModuleDestroy } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { METRICS_REGISTRY, NATS_CONNECTION, READINESS_CHECKS, type ReadinessRegistry } from '@tunnelkey/messaging';
import { Counter, Histogram, type Registry } from 'prom-client';
import { CaMsController } from './ca-ms.controller.js';
import { CaRuntime, type CaRuntimeOptions } from './ca-runtime.js';
import { CrlHttpController } from './crl-publication/crl-http.controller.js';
import { CA_MODULE_OPTIONS, CA_RUNTIME } from './tokens.js';

/** Everything the CA needs but the NATS connection, which the platform module provides. */
export type CaModuleOptions = Omit<CaRuntimeOptions, 'nats' | 'onOutcome'>;

class CaLifecycle implements OnModuleDestroy {
  constructor(@Inject(CA_RUNTIME) private readonly runtime: CaRuntime) {}
  onModuleDestroy(): Promise<void> {
    return this.runtime.stop();
  }
}

const createRuntime = async (nats: NatsConnection, readiness: ReadinessRegistry, metrics: Registry, options: CaModuleOptions): Promise<CaRuntime> => {
  const outcomes = new Counter({ name: 'ca_certificate_requests_total', help: 'CSRs handled, by outcome and reason', labelNames: ['outcome', 'reason'], registers: [metrics] });
  const latency = new Histogram({ name: 'ca_issuance_seconds', help: 'CSR received to answer sent', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [metrics] });
  const runtime = await CaRuntime.start({
    ...options,
    nats,
    onOutcome: (outcome, ms) => {
      outcomes.inc({ outcome: outcome.kind === 'issued' ? (outcome.reused ? 'reused' : 'issued') : outcome.kind, reason: outcome.kind === 'issued' ? '' : outcome.reason });
      latency.observe(ms / 1000);
    },
  });
  readiness.add({ name: 'ca-device-eligibility', ready: () => runtime.ready });
  return runtime;
};

/** The CA service: `CaModule.forRoot(options)` inside startService({ service: 'ca', ... }). */
@Module({})
export class CaModule {
  static forRoot(options: CaModuleOptions): DynamicModule {
    return {
      module: CaModule,
      controllers: [CaMsController, CrlHttpController],
      providers: [
        { provide: CA_MODULE_OPTIONS, useValue: options },
        { provide: CA_RUNTIME, useFactory: createRuntime, inject: [NATS_CONNECTION, READINESS_CHECKS, METRICS_REGISTRY, CA_MODULE_OPTIONS] },
        CaLifecycle,
      ],
      exports: [CA_RUNTIME],
    };
  }
}
