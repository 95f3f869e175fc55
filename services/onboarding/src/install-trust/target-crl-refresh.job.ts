/**
 * Keeps every target's CRL fresh: a broker refuses every handshake once its CRL is past its
 * nextUpdate, so each target with devices gets a new one past half the CRL's lifetime
 * (ONBOARDING_TARGET_CRL_LIFETIME_MS), checked every eighth of it, at most hourly. A target that
 * cannot be reached is logged and tried again on the next round.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { describeError } from '@tunnelkey/errors';
import type { Logger } from 'pino';
import type { OnboardingConfig } from '../config.js';
import { CLOCK, ONBOARDING_CONFIG, ONBOARDING_LOGGER, type Clock } from '../tokens.js';
import { TargetsView } from '../views/targets.view.js';
import { InstallTrustHandler } from './install-trust.handler.js';

@Injectable()
export class TargetCrlRefreshJob implements OnApplicationBootstrap, OnModuleDestroy {
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;

  constructor(
    private readonly trust: InstallTrustHandler,
    private readonly targets: TargetsView,
    @Inject(ONBOARDING_CONFIG) private readonly config: OnboardingConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ONBOARDING_LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    const everyMs = Math.min(this.config.targetCrlLifetimeMs / 8, 3600_000);
    this.#timer = setInterval(() => void this.refresh(), everyMs);
    this.#timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.#timer);
    await this.#refreshing;
  }

  /** One round: every target with devices, its CRL renewed if it is past half its lifetime. */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refresh().finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  async #refresh(): Promise<void> {
    const at = this.clock();
    const metadata = { commandId: `crl-refresh-${at.getTime()}`, now: at.toISOString() };
    for (const { targetId } of this.targets.registrations()) {
      if (this.targets.onboardedTo(targetId).length === 0) continue;
      try {
        await this.trust.ensureTrust(targetId, metadata);
      } catch (error) {
        this.logger.warn(
          { event: 'onboarding.target_crl_refresh_failed', targetId, error: describeError(error) },
          "a target's CRL could not be renewed; trying again next round",
        );
      }
    }
  }
}
