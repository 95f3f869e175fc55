import { Inject, Optional, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type {
  DeliveryPolicy,
  EventStore,
  RecordedEvent,
  Subscription,
  SubscriptionOptions,
} from '@tunnelkey/eventstore';
import { pino, type Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { METRICS_REGISTRY, READINESS_CHECKS, type ReadinessRegistry } from './platform.module.js';

/** How a reaction subscribes: its durable, what it reads, and what happens when its handler keeps failing. */
export interface ReactionOptions extends Omit<SubscriptionOptions, 'delivery'> {
  /**
   * No default, every reaction chooses: `retry-forever` for work that must never be skipped (the
   * revocation path: an event is redelivered with capped backoff until handled, however long it
   * takes), `park-after-attempts` where setting a poison event aside beats blocking the ones after it.
   */
  delivery: DeliveryPolicy;
  /** Consecutive failures of one event after which the reaction counts as stuck (metric, log line). Default 5. */
  stuckAfterFailures?: number;
  logger?: Logger;
}

/** The event a reaction has failed on `stuckAfterFailures` times in a row or more. No payload, no error message. */
export interface StuckDelivery {
  reaction: string;
  type: string;
  subject: string;
  sequence: number;
  failures: number;
  /** When its first failure in the row happened (ISO 8601). */
  since: string;
  /** The last error's name only: a message may quote the payload. */
  error: string;
}

interface Failing extends Omit<StuckDelivery, 'reaction' | 'since'> {
  sinceMs: number;
}

/** One pair of gauges per metrics registry, over every reaction registered with it. */
const stuckGauges = new WeakMap<Registry, Set<DurableReaction>>();

function watchStuck(registry: Registry, reaction: DurableReaction): () => void {
  let reactions = stuckGauges.get(registry);
  if (!reactions) {
    const watched = (reactions = new Set());
    stuckGauges.set(registry, watched);
    new Gauge({
      name: 'reaction_stuck_events',
      help: 'Events a reaction keeps failing on (1 while stuck, 0 otherwise), by reaction',
      labelNames: ['reaction'],
      registers: [registry],
      collect() {
        this.reset();
        for (const r of watched) this.set({ reaction: r.name }, r.stuck() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'reaction_stuck_seconds',
      help: 'Age of the oldest event a reaction is stuck on, since its first failure (0 when not stuck), by reaction',
      labelNames: ['reaction'],
      registers: [registry],
      collect() {
        this.reset();
        const now = Date.now();
        for (const r of watched) {
          const stuck = r.stuck();
          this.set({ reaction: r.name }, stuck ? Math.max(0, now - Date.parse(stuck.since)) / 1000 : 0);
        }
      },
    });
  }
  reactions.add(reaction);
  return () => reactions.delete(reaction);
}

const errorName = (error: unknown): string => (error instanceof Error ? error.name : typeof error);

/**
 * A service's reaction to events as a Nest provider: one durable subscription (one name for every
 * instance, so a restart resumes where it stopped and replicas share the work), started once the
 * application has bootstrapped and stopped with the module. `handle` throwing has the event
 * redelivered with backoff; what happens after many failures is the reaction's `delivery` policy.
 * An event failing `stuckAfterFailures` times in a row makes the reaction stuck: one error log line
 * (`reaction.stuck`), and the gauges `reaction_stuck_events` / `reaction_stuck_seconds` in /metrics,
 * until it is handled (`reaction.recovered`).
 */
export abstract class DurableReaction implements OnApplicationBootstrap, OnModuleDestroy {
  #subscription: Subscription | undefined;
  #starting: Promise<void> | undefined;
  #failing: Failing | undefined;
  #unwatch: (() => void) | undefined;
  readonly #stuckAfter: number;
  readonly #logger: Logger;

  /** The service's metrics registry (the platform module's), when running in one. */
  @Optional() @Inject(METRICS_REGISTRY) protected metricsRegistry?: Registry;

  /** The service's /ready checks, when running in one: the reaction is not ready after a reconnect until caught up. */
  @Optional() @Inject(READINESS_CHECKS) protected readinessChecks?: ReadinessRegistry;

  protected constructor(
    private readonly eventStore: EventStore,
    private readonly options: ReactionOptions,
  ) {
    this.#stuckAfter = Math.max(1, options.stuckAfterFailures ?? 5);
    this.#logger = options.logger ?? pino({ name: 'reaction' });
  }

  /** The durable name. */
  get name(): string {
    return this.options.durable;
  }

  /** This reaction's choice for an event its handler keeps failing on. */
  get delivery(): DeliveryPolicy {
    return this.options.delivery;
  }

  /** The event it is stuck on, if any. */
  stuck(): StuckDelivery | undefined {
    const failing = this.#failing;
    if (!failing || failing.failures < this.#stuckAfter) return undefined;
    const { sinceMs, ...rest } = failing;
    return { reaction: this.name, ...rest, since: new Date(sinceMs).toISOString() };
  }

  /** One delivered event. */
  abstract handle(recorded: RecordedEvent): Promise<void> | void;

  /** What must be done before subscribing (the streams ensured); nothing by default. */
  protected async beforeStart(): Promise<void> {}

  onApplicationBootstrap(): Promise<void> {
    // Once: a hybrid app bootstraps the HTTP app and the microservice with the same providers.
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async onModuleDestroy(): Promise<void> {
    await this.#starting?.catch(() => undefined);
    await this.#subscription?.stop();
    this.#subscription = undefined;
    this.#unwatch?.();
  }

  /** Resolves once the subscription runs. */
  async started(): Promise<void> {
    await this.#starting;
  }

  /** Resolves once every event written before the call is handled (or parked, under `park-after-attempts`). */
  async caughtUp(): Promise<void> {
    await this.#starting;
    await this.#subscription?.caughtUp();
  }

  async #start(): Promise<void> {
    await this.beforeStart();
    if (this.metricsRegistry) this.#unwatch = watchStuck(this.metricsRegistry, this);
    const { stuckAfterFailures: _stuckAfter, logger: _logger, ...subscription } = this.options;
    this.#subscription = await this.eventStore.subscribe(subscription, (recorded) => this.#handle(recorded));
    this.readinessChecks?.addFollower(
      `reaction ${this.name}`,
      () => true,
      () => this.caughtUp(),
    );
  }

  async #handle(recorded: RecordedEvent): Promise<void> {
    try {
      await this.handle(recorded);
    } catch (error) {
      this.#failed(recorded, error);
      throw error;
    }
    const stuck = this.stuck();
    this.#failing = undefined;
    if (stuck) {
      const stuckForMs = Math.max(0, Date.now() - Date.parse(stuck.since));
      const { reaction, type, subject, sequence, failures } = stuck;
      this.#logger.info(
        { event: 'reaction.recovered', reaction, type, subject, sequence, failures, stuckForMs },
        `${reaction} handled ${type} #${sequence} after ${failures} failures`,
      );
    }
  }

  #failed(recorded: RecordedEvent, error: unknown): void {
    const same = this.#failing?.sequence === recorded.sequence;
    this.#failing = {
      type: recorded.event.type,
      subject: recorded.subject,
      sequence: recorded.sequence,
      failures: same ? this.#failing!.failures + 1 : 1,
      sinceMs: same ? this.#failing!.sinceMs : Date.now(),
      error: errorName(error),
    };
    if (this.#failing.failures !== this.#stuckAfter) return;
    const stuck = this.stuck()!;
    this.#logger.error(
      { event: 'reaction.stuck', ...stuck, delivery: this.delivery },
      `${stuck.reaction} stuck on ${stuck.type} #${stuck.sequence}: ${stuck.failures} failures since ${stuck.since} (${stuck.error})`,
    );
  }
}
