import type { OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import type { EventStore, RecordedEvent, Subscription, SubscriptionOptions } from '@tunnelkey/eventstore';

/**
 * A service's reaction to events as a Nest provider: one durable subscription (one name for every
 * instance, so a restart resumes where it stopped and replicas share the work), started once the
 * application has bootstrapped and stopped with the module. `handle` throwing has the event
 * redelivered with backoff (the store parks it after its configured attempts).
 */
export abstract class DurableReaction implements OnApplicationBootstrap, OnModuleDestroy {
  #subscription: Subscription | undefined;
  #starting: Promise<void> | undefined;

  protected constructor(
    private readonly eventStore: EventStore,
    private readonly subscription: SubscriptionOptions,
  ) {}

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
  }

  /** Resolves once the subscription runs. */
  async started(): Promise<void> {
    await this.#starting;
  }

  /** Resolves once every event written before the call is handled (or parked). */
  async caughtUp(): Promise<void> {
    await this.#starting;
    await this.#subscription?.caughtUp();
  }

  async #start(): Promise<void> {
    await this.beforeStart();
    this.#subscription = await this.eventStore.subscribe(this.subscription, (recorded) => this.handle(recorded));
  }
}
