/**
 * Records the periodic telemetry counters every ONBOARDING_TELEMETRY_INTERVAL_MS, and once more at
 * shutdown; every second, the observations held until their device's onboarding is known.
 */
import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { OnboardingConfig } from '../config.js';
import { ONBOARDING_CONFIG } from '../tokens.js';
import { WatchTargetsHandler } from './watch-targets.handler.js';

@Injectable()
export class TelemetryFlushJob implements OnModuleInit, OnModuleDestroy {
  #timer: NodeJS.Timeout | undefined;
  #held: NodeJS.Timeout | undefined;

  constructor(
    private readonly handler: WatchTargetsHandler,
    @Inject(ONBOARDING_CONFIG) private readonly config: OnboardingConfig,
  ) {}

  onModuleInit(): void {
    this.#timer = setInterval(() => this.handler.flush(), this.config.telemetryIntervalMs);
    this.#held = setInterval(() => this.handler.recordHeld(), 1_000);
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.#timer);
    clearInterval(this.#held);
    this.handler.recordHeld();
    await this.handler.flushTelemetry();
  }
}
