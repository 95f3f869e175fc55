/**
 * Runs the saga's deadline every `checkEveryMs` (a quarter of the shorter of the stall threshold and
 * the deadline, at most 10 s), and keeps the gauges operators alert on: open revocations, stalled
 * ones, escalated ones, and the age of the oldest open one.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { describeError } from '@tunnelkey/eventstore';
import { METRICS_REGISTRY } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import type { RevocationConfig } from '../config.js';
import { CLOCK, REVOCATION_CONFIG, REVOCATION_LOGGER, type Clock } from '../tokens.js';
import { RevocationStatusView } from '../views/revocation-status.view.js';
import { RevocationDeadlineHandler } from './revocation-deadline.handler.js';

/** How often the deadline is checked under a policy. */
export const checkEveryMs = (config: Pick<RevocationConfig, 'stallMs' | 'deadlineMs'>): number =>
  Math.max(10, Math.min(10_000, Math.floor(Math.min(config.stallMs, config.deadlineMs) / 4)));

@Injectable()
export class RevocationDeadlineJob implements OnApplicationBootstrap, OnModuleDestroy {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(
    private readonly handler: RevocationDeadlineHandler,
    private readonly view: RevocationStatusView,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(REVOCATION_CONFIG) private readonly config: Pick<RevocationConfig, 'stallMs' | 'deadlineMs'>,
    @Inject(REVOCATION_LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) metrics: Registry,
  ) {
    const open = () => this.view.state.openRevocations().map((id) => this.view.state.revocation(id));
    const now = () => this.clock().getTime();
    new Gauge({
      name: 'revocation_open',
      help: 'Revocations requested and not completed yet',
      registers: [metrics],
      collect() {
        this.set(open().length);
      },
    });
    new Gauge({
      name: 'revocation_stalled',
      help: 'Open revocations that have not moved forward for longer than REVOCATION_STALL_MS',
      registers: [metrics],
      collect() {
        this.set(open().filter((r) => r.stalled).length);
      },
    });
    new Gauge({
      name: 'revocation_escalated',
      help: 'Open revocations past REVOCATION_DEADLINE_MS (the saga keeps retrying them)',
      registers: [metrics],
      collect() {
        this.set(open().filter((r) => r.escalated).length);
      },
    });
    new Gauge({
      name: 'revocation_oldest_open_seconds',
      help: 'Age of the oldest open revocation, since its request (0 when none is open)',
      registers: [metrics],
      collect() {
        const at = now();
        const ages = open().map((r) => (r.requestedAt ? at - Date.parse(r.requestedAt) : 0));
        this.set(Math.max(0, ...ages) / 1000);
      },
    });
  }

  onApplicationBootstrap(): void {
    this.#schedule();
  }

  onModuleDestroy(): Promise<void> {
    return this.stop();
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** One check now (also what the timer runs); a failure is logged and the next check retries. */
  run(): Promise<void> {
    this.#running ??= this.handler
      .check()
      .then(() => undefined)
      .catch((error: unknown) => {
        const context = { event: 'revocation.deadline_check_failed', error: describeError(error) };
        this.logger.warn(context, 'revocation deadline not checked; will retry');
      })
      .finally(() => (this.#running = undefined));
    return this.#running;
  }

  #schedule(): void {
    this.#timer = setTimeout(() => {
      void this.run().finally(() => {
        if (this.#timer) this.#schedule();
      });
    }, checkEveryMs(this.config));
  }
}
