/**
 * Keeps every target's CRL fresh: a broker refuses every handshake once its CRL is past its
 * nextUpdate, so each target with devices gets a new one past half the CRL's lifetime
 * (ONBOARDING_TARGET_CRL_LIFETIME_MS), checked every eighth of it, at most hourly. A target that
 * cannot be reached is logged and tried again on the next round.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { PeriodicTask } from '@tunnelkey/concurrency';
import { describeError } from '@tunnelkey/errors';
import type { Logger } from 'pino';
import type { OnboardingConfig } from '../config.js';
import { CLOCK, ONBOARDING_CONFIG, ONBOARDING_LOGGER, type Clock } from '../tokens.js';
import { TargetsView } from '../views/targets.view.js';
import { InstallTrustHandler } from './install-trust.handler.js';

@Injectable()
export class TargetCrlRefreshJob implements OnApplicationBootstrap, OnModuleDestroy {
  readonly #task: PeriodicTask<void>;

  constructor(
    private readonly trust: InstallTrustHandler,
    private readonly targets: TargetsView,
    @Inject(ONBOARDING_CONFIG) private readonly config: OnboardingConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ONBOARDING_LOGGER) private readonly logger: Logger,
  ) {
    this.#task = new PeriodicTask(() => this.#refresh(), Math.min(config.targetCrlLifetimeMs / 8, 3600_000));
  }

  onApplicationBootstrap(): void {
    this.#task.start();
  }

  onModuleDestroy(): Promise<void> {
    return this.#task.stop();
  }

  /** One round: every target with devices, its CRL renewed if it is past half its lifetime. */
  refresh(): Promise<void> {
    return this.#task.runNow();
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
