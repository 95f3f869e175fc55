/**
 * Job: re-publishes CRLs past half their validity (see PublishCrlHandler.refreshDue). Checking
 * every 10 minutes (CA_CRL_REFRESH_CHECK_MS) is plenty for a 7-day CRL; instances racing on one
 * refresh publish it once.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { PeriodicTask } from '@tunnelkey/concurrency';
import type { Logger } from 'pino';
import type { CaConfig } from '../config.js';
import { CA_CONFIG, CA_LOGGER } from '../tokens.js';
import { PublishCrlHandler } from './publish-crl.handler.js';

@Injectable()
export class CrlRefreshJob implements OnApplicationBootstrap, OnModuleDestroy {
  readonly #task: PeriodicTask<void>;

  constructor(
    private readonly crls: PublishCrlHandler,
    @Inject(CA_CONFIG) private readonly config: Pick<CaConfig, 'crlRefreshCheckMs'>,
    @Inject(CA_LOGGER) private readonly logger: Logger,
  ) {
    this.#task = new PeriodicTask(() => this.#check(), config.crlRefreshCheckMs);
  }

  onApplicationBootstrap(): void {
    this.#task.start();
  }

  onModuleDestroy(): Promise<void> {
    return this.#task.stop();
  }

  /** One check; a failure is logged and retried at the next one. */
  run(): Promise<void> {
    return this.#task.runNow();
  }

  async #check(): Promise<void> {
    await this.crls.refreshDue().catch((error: unknown) => {
      const name = error instanceof Error ? error.name : 'unknown';
      this.logger.warn(
        { event: 'ca.crl_refresh_failed', error: name },
        'CRL refresh failed; retried at the next check',
      );
    });
  }
}
