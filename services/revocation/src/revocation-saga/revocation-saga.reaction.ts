/**
 * Drives each revocation through CA revoke -> CRL -> targets deprovisioned -> registry Revoked.
 *
 * Driven by the revocation-status view, not by a durable consumer: after every event the view
 * folds, the revocations it may move forward are advanced (the pure next step over the view's
 * state), and at start every open revocation is, so a saga a crash interrupted resumes. Its only
 * effect is an idempotent append to its own log (see the handler), so every instance may run it:
 * no consumer to name, none left behind by a pod that went away.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { describeError } from '@tunnelkey/eventstore';
import { METRICS_REGISTRY } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { RevocationConfig } from '../config.js';
import { REVOCATION_CONFIG, REVOCATION_LOGGER, STEP_LISTENER, type StepListener } from '../tokens.js';
import { RevocationStatusView } from '../views/revocation-status.view.js';
import { RevocationSagaHandler } from './revocation-saga.handler.js';

@Injectable()
export class RevocationSagaReaction implements OnApplicationBootstrap, OnModuleDestroy {
  /** Revocations to advance, one at a time: steps of one revocation never race each other here. */
  readonly #dirty = new Set<string>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #steps: Counter<'step'>;
  #pumping: Promise<void> | undefined;
  #unsubscribe: (() => void) | undefined;
  #stopped = false;

  constructor(
    private readonly view: RevocationStatusView,
    private readonly handler: RevocationSagaHandler,
    @Inject(REVOCATION_CONFIG) private readonly config: Pick<RevocationConfig, 'retryMs' | 'namespace'>,
    @Inject(REVOCATION_LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) metrics: Registry,
    @Inject(STEP_LISTENER) private readonly onStep: StepListener,
  ) {
    const help = 'Saga steps recorded, by step';
    this.#steps = new Counter({ name: 'revocation_steps_total', help, labelNames: ['step'], registers: [metrics] });
  }

  onApplicationBootstrap(): void {
    this.start();
  }

  /** Follows the view, and advances every open revocation (the ones a crash or a stop interrupted). */
  start(): void {
    if (this.#unsubscribe || this.#stopped) return;
    this.#unsubscribe = this.view.onChange((revocationIds) => this.#touch(revocationIds));
    const open = this.view.state.openRevocations();
    const { namespace } = this.config;
    this.logger.info({ event: 'revocation.started', namespace, open: open.length }, 'revocation saga started');
    this.#touch(open);
  }

  /** Resolves once no saga step is in flight (tests). */
  async idle(): Promise<void> {
    while (this.#pumping) await this.#pumping;
  }

  onModuleDestroy(): Promise<void> {
    return this.stop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe?.();
    await this.#pumping;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  #touch(revocationIds: readonly string[]): void {
    if (this.#stopped || !this.#unsubscribe) return;
    for (const id of revocationIds) if (id) this.#dirty.add(id);
    if (this.#dirty.size) this.#pumping ??= this.#pump().finally(() => (this.#pumping = undefined));
  }

  async #pump(): Promise<void> {
    while (this.#dirty.size && !this.#stopped) {
      const revocationId = this.#dirty.values().next().value as string;
      this.#dirty.delete(revocationId);
      try {
        const steps = await this.handler.advance(revocationId, () => this.#stopped);
        for (const step of steps) {
          this.#steps.inc({ step: step.type === 'CompleteStep' ? step.data.step : 'completed' });
          this.onStep(revocationId, step);
        }
      } catch (error) {
        if (this.#stopped) return;
        const context = { event: 'revocation.step_retry', revocationId, error: describeError(error) };
        this.logger.warn(context, 'revocation step not recorded; will retry');
        const timer = setTimeout(() => {
          this.#timers.delete(timer);
          this.#touch([revocationId]);
        }, this.config.retryMs);
        this.#timers.add(timer);
      }
    }
  }
}
