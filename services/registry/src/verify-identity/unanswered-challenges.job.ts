import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { describeError, isCommandRejected } from '@tunnelkey/eventstore';
import { RegistryReadModel } from '../read-model/registry-read-model.js';
import { commandOf, derivedCommandId } from '../shared/command-metadata.js';
import { mapBounded } from '../shared/concurrency.js';
import { RegistryAggregates } from '../shared/registry-aggregates.js';
import { REGISTRY_RUNTIME, type RegistryRuntime } from '../shared/registry-runtime.js';

const sweepEveryMs = 15_000;

/**
 * A device that never answers its challenge gets IdentityVerificationFailed `no-response` once the
 * challenge expires, so an operator sees it instead of a challenge pending forever. Replicas may
 * sweep the same device: the command id is derived from the challenge, so the second writes nothing.
 */
@Injectable()
export class UnansweredChallengesSweeper implements OnApplicationBootstrap, OnModuleDestroy {
  #timer: NodeJS.Timeout | undefined;
  #sweeping: Promise<number> | undefined;

  constructor(
    private readonly readModel: RegistryReadModel,
    private readonly aggregates: RegistryAggregates,
    @Inject(REGISTRY_RUNTIME) private readonly runtime: RegistryRuntime,
  ) {}

  onApplicationBootstrap(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.sweep(), sweepEveryMs);
    this.#timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.#timer);
    await this.#sweeping;
  }

  /** Records `no-response` for every expired pending challenge; returns how many it recorded. */
  sweep(): Promise<number> {
    this.#sweeping ??= this.#sweep().finally(() => (this.#sweeping = undefined));
    return this.#sweeping;
  }

  async #sweep(): Promise<number> {
    const now = this.runtime.clock();
    const expired = this.readModel.pendingChallenges().filter(({ expiresAt }) => Date.parse(expiresAt) < now.getTime());
    let recorded = 0;
    await mapBounded(expired, this.runtime.bulkConcurrency, async ({ deviceId, challengeId }) => {
      const commandId = derivedCommandId(`no-response-${deviceId}`, challengeId);
      try {
        const result = await this.aggregates.device(
          commandOf(
            'RecordVerificationFailure',
            { deviceId, challengeId, reason: 'no-response' as const },
            { commandId, correlationId: commandId, now: now.toISOString(), actor: { kind: 'service', id: 'registry' } },
          ),
        );
        if (result.events.length > 0 && !result.alreadyHandled) recorded++;
      } catch (error) {
        if (!isCommandRejected(error)) this.runtime.logger.warn({ event: 'registry.sweep_failed', deviceId, error: describeError(error) }, 'unanswered challenge not recorded');
      }
    });
    if (recorded > 0) this.runtime.logger.info({ event: 'registry.challenges_unanswered', devices: recorded }, 'identity challenges expired unanswered');
    return recorded;
  }
}
