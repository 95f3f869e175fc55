/**
 * Job: re-publishes CRLs past half their validity (see PublishCrlHandler.refreshDue). Checking
 * every 10 minutes (CA_CRL_REFRESH_CHECK_MS) is plenty for a 7-day CRL; instances racing on one
 * refresh publish it once.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Logger } from 'pino';
import type { CaConfig } from '../config.js';
import { CA_CONFIG, CA_LOGGER } from '../tokens.js';
import { PublishCrlHandler } from './publish-crl.handler.js';

@Injectable()
export class CrlRefreshJob implements OnApplicationBootstrap, OnModuleDestroy {
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly crls: PublishCrlHandler,
    @Inject(CA_CONFIG) private readonly config: Pick<CaConfig, 'crlRefreshCheckMs'>,
    @Inject(CA_LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.#timer = setInterval(() => void this.run(), this.config.crlRefreshCheckMs);
    this.#timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.#timer);
  }

  /** One check; a failure is logged and retried at the next one. */
  async run(): Promise<void> {
    await this.crls.refreshDue().catch((error: unknown) => {
      const name = error instanceof Error ? error.name : 'unknown';
      this.logger.warn(
        { event: 'ca.crl_refresh_failed', error: name },
        'CRL refresh failed; retried at the next check',
      );
    });
  }
}
