import { Inject, Module, type DynamicModule, type OnModuleDestroy } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { NATS_CONNECTION, READINESS_CHECKS, type ReadinessRegistry } from '@tunnelkey/messaging';
import { OnboardingMsController } from './onboarding-ms.controller.js';
import { OnboardingRuntime, type OnboardingRuntimeOptions } from './onboarding-runtime.js';
import { ONBOARDING_MODULE_OPTIONS, ONBOARDING_RUNTIME } from './tokens.js';

/** Everything onboarding needs but the NATS connection, which the platform module provides. */
export type OnboardingModuleOptions = Omit<OnboardingRuntimeOptions, 'nats'>;

class OnboardingLifecycle implements OnModuleDestroy {
  constructor(@Inject(ONBOARDING_RUNTIME) private readonly runtime: OnboardingRuntime) {}
  onModuleDestroy(): Promise<void> {
    return this.runtime.stop();
  }
}

const createRuntime = async (nats: NatsConnection, readiness: ReadinessRegistry, options: OnboardingModuleOptions): Promise<OnboardingRuntime> => {
  const runtime = await OnboardingRuntime.start({ ...options, nats });
  readiness.add({ name: 'onboarding-facts', ready: () => runtime.ready });
  return runtime;
};

/** The onboarding service: `OnboardingModule.forRoot(options)` inside startService({ service: 'onboarding', ... }). */
@Module({})
export class OnboardingModule {
  static forRoot(options: OnboardingModuleOptions): DynamicModule {
    return {
      module: OnboardingModule,
      controllers: [OnboardingMsController],
      providers: [
        { provide: ONBOARDING_MODULE_OPTIONS, useValue: options },
        { provide: ONBOARDING_RUNTIME, useFactory: createRuntime, inject: [NATS_CONNECTION, READINESS_CHECKS, ONBOARDING_MODULE_OPTIONS] },
        OnboardingLifecycle,
      ],
      exports: [ONBOARDING_RUNTIME],
    };
  }
}
