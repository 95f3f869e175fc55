/**
 * Every write to a device aggregate (`onboarding.device.<id>`) goes through here: one queue per
 * device, so its records stay in order and this instance decides on the state it last wrote (kept
 * in an AggregateStateCache), at most `maxConcurrentAppends` devices at once.
 */
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { KeyedQueue } from '@tunnelkey/concurrency';
import {
  AggregateStateCache,
  handleCommand,
  type EventStore,
  type SnapshotPolicy,
  type SnapshotStore,
  type StreamRef,
} from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import type { OnboardingConfig } from '../config.js';
import { deviceDecider, type DeviceCommand, type DeviceState } from '../deciders/device.decider.js';
import { ONBOARDING_CONFIG, ONBOARDING_LOGGER, SNAPSHOT_STORE } from '../tokens.js';

/**
 * `telemetry`: the periodic counters flush for every device at once, a thousand appends; they take
 * their own narrow queue so onboarding, connection and deprovisioning records (a revocation waits
 * for those) never queue behind them.
 */
export type DeviceLane = 'records' | 'telemetry';

@Injectable()
export class DeviceWriter implements OnModuleDestroy {
  readonly #records: KeyedQueue;
  readonly #telemetry = new KeyedQueue(8);
  /** A device's stream grows by one event per telemetry period for as long as it lives: snapshots keep reads short. */
  readonly #snapshots: SnapshotPolicy;
  readonly #cache: AggregateStateCache<DeviceState> | undefined;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(SNAPSHOT_STORE) snapshotStore: SnapshotStore,
    @Inject(ONBOARDING_CONFIG) config: OnboardingConfig,
    @Inject(ONBOARDING_LOGGER) private readonly logger: Logger,
  ) {
    this.#records = new KeyedQueue(config.maxConcurrentAppends);
    this.#snapshots = { store: snapshotStore, every: 50 };
    this.#cache =
      config.deviceStateCacheSize > 0
        ? new AggregateStateCache({ maxStreams: config.deviceStateCacheSize })
        : undefined;
  }

  /**
   * `likelyNew`: the caller knows of no event on the device's stream (its first onboarding): the
   * command is decided on the empty state and appended expecting an empty stream, without a read.
   * A wrong guess costs one append refused by its expected version, then the usual fresh load.
   */
  record(
    deviceId: string,
    command: DeviceCommand,
    lane: DeviceLane = 'records',
    { likelyNew = false }: { likelyNew?: boolean } = {},
  ): Promise<void> {
    const queue = lane === 'telemetry' ? this.#telemetry : this.#records;
    const stream: StreamRef = { context: 'onboarding', aggregate: 'device', id: deviceId };
    return queue.run(deviceId, async () => {
      if (likelyNew) this.#cache?.assumeNew(stream, deviceDecider.initialState);
      await handleCommand({
        store: this.store,
        decider: deviceDecider,
        stream,
        command,
        logger: this.logger,
        maxRetries: 5,
        snapshots: this.#snapshots,
        ...(this.#cache ? { cache: this.#cache } : {}),
      });
    });
  }

  /** Resolves once every queued record is written (or failed). */
  async idle(): Promise<void> {
    await Promise.all([this.#records.idle(), this.#telemetry.idle()]);
  }

  onModuleDestroy(): Promise<void> {
    return this.idle();
  }
}
