import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { mapBounded, PeriodicTask } from '@tunnelkey/concurrency';
import {
  derivedCommandId,
  describeError,
  handleCommand,
  isCommandRejected,
  type EventStore,
} from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import type { RegistryConfig } from '../config.js';
import { deviceDecider } from '../deciders/device.decider.js';
import type { Clock } from '../shared/clock.js';
import { commandOf } from '../shared/command-metadata.js';
import { DeviceStateCache } from '../shared/device-state-cache.js';
import { deviceStream } from '../shared/registry-streams.js';
import { REGISTRY_CLOCK, REGISTRY_CONFIG, REGISTRY_LOGGER } from '../tokens.js';
import { DeviceByIdView } from '../views/device-by-id.view.js';

const sweepEveryMs = 15_000;

/**
 * A device that never answers its challenge gets IdentityVerificationFailed `no-response` once the
 * challenge expires, so an operator sees it instead of a challenge pending forever. Replicas may
 * sweep the same device: the command id is derived from the challenge, so the second writes nothing.
 */
@Injectable()
export class UnansweredChallengesJob implements OnApplicationBootstrap, OnModuleDestroy {
  readonly #task = new PeriodicTask(() => this.#sweep(), sweepEveryMs);

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly devices: DeviceByIdView,
    private readonly deviceStates: DeviceStateCache,
    @Inject(REGISTRY_CONFIG) private readonly config: RegistryConfig,
    @Inject(REGISTRY_CLOCK) private readonly clock: Clock,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.#task.start();
  }

  onModuleDestroy(): Promise<void> {
    return this.#task.stop();
  }

  /** Records `no-response` for every expired pending challenge; returns how many it recorded. */
  sweep(): Promise<number> {
    return this.#task.runNow();
  }

  /**
   * Records `no-response` for one challenge (unless it was answered or closed first); true when
   * recorded now. The identity-challenges window gives its expired challenges up through it too.
   */
  async recordNoResponse({ deviceId, challengeId }: { deviceId: string; challengeId: string }, now = this.clock()) {
    const commandId = derivedCommandId(`no-response-${deviceId}`, challengeId);
    const metadata = {
      commandId,
      correlationId: commandId,
      now: now.toISOString(),
      actor: { kind: 'service' as const, id: 'registry' },
    };
    try {
      const result = await handleCommand({
        store: this.store,
        decider: deviceDecider,
        stream: deviceStream(deviceId),
        cache: this.deviceStates.for(deviceId),
        command: commandOf(
          'RecordVerificationFailure',
          { deviceId, challengeId, reason: 'no-response' as const },
          metadata,
        ),
        logger: this.logger,
      });
      return result.events.length > 0 && !result.alreadyHandled;
    } catch (error) {
      if (!isCommandRejected(error)) {
        this.logger.warn(
          { event: 'registry.sweep_failed', deviceId, error: describeError(error) },
          'unanswered challenge not recorded',
        );
      }
      return false;
    }
  }

  async #sweep(): Promise<number> {
    const now = this.clock();
    const expired = this.devices.pendingChallenges().filter(({ expiresAt }) => Date.parse(expiresAt) < now.getTime());
    let recorded = 0;
    await mapBounded(expired, this.config.bulkConcurrency, async (challenge) => {
      if (await this.recordNoResponse(challenge, now)) recorded++;
    });
    if (recorded > 0)
      this.logger.info(
        { event: 'registry.challenges_unanswered', devices: recorded },
        'identity challenges expired unanswered',
      );
    return recorded;
  }
}
