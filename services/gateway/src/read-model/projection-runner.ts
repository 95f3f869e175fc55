import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { streamName, type BoundedContext } from '@tunnelkey/contracts';
import type { JetStreamEventStore, RecordedEvent, Subscription } from '@tunnelkey/eventstore';
import type { Logger } from 'pino';
import type { MemoryReadStore } from './memory-read-store.js';
import type { GatewayProjection } from './projection.js';

export interface ProjectionRunnerOptions {
  nats: NatsConnection;
  store: JetStreamEventStore;
  readStore: MemoryReadStore;
  projections: readonly GatewayProjection[];
  /** Distinguishes this process's durables: the embedded store starts empty each run. */
  instanceId: string;
  logger: Logger;
}

/**
 * Feeds projections: a fast replay (ordered consumer) from each checkpoint, then a durable
 * subscription from the sequence after it, so a projection never misses or doubles an event.
 * The embedded store lives in memory, so its durables are per process and deleted at stop; a
 * persistent store (MongoDB) would keep one durable name and resume at its stored checkpoint.
 */
export class ProjectionRunner {
  readonly #subscriptions: { subscription: Subscription; context: BoundedContext; durable: string }[] = [];
  #caughtUp = false;
  readonly #appliedListeners: ((projection: string, context: BoundedContext) => void)[] = [];

  constructor(private readonly options: ProjectionRunnerOptions) {}

  /** Called after each applied event (metrics). */
  onApplied(listener: (projection: string, context: BoundedContext) => void): void {
    this.#appliedListeners.push(listener);
  }

  get caughtUp(): boolean {
    return this.#caughtUp;
  }

  async start(): Promise<void> {
    const { store, readStore, projections, logger } = this.options;
    const contexts = [...new Set(projections.flatMap((p) => p.contexts))];
    await store.ensureStreams(contexts);
    const started = Date.now();
    let replayed = 0;
    for (const projection of projections) {
      for (const context of projection.contexts) {
        const handle = (recorded: RecordedEvent) => {
          const writes = projection.project(recorded.event, { context, sequence: recorded.sequence }, (collection, id) => readStore.get(collection, id));
          if (readStore.apply(projection.name, context, recorded.sequence, writes)) for (const listener of this.#appliedListeners) listener(projection.name, context);
        };
        const from = readStore.checkpoint(projection.name, context) + 1;
        await store.replay(context, (recorded) => {
          replayed++;
          handle(recorded);
        }, { fromSequence: from });
        const durable = `gw-${projection.name}-${context}-${this.options.instanceId}`.slice(0, 64);
        const subscription = await store.subscribe({ durable, context, fromSequence: readStore.checkpoint(projection.name, context) + 1 }, handle);
        this.#subscriptions.push({ subscription, context, durable });
      }
    }
    await Promise.all(this.#subscriptions.map(({ subscription }) => subscription.caughtUp()));
    this.#caughtUp = true;
    logger.info({ event: 'gateway.projections_caught_up', replayed, ms: Date.now() - started }, 'read models caught up');
  }

  async stop(): Promise<void> {
    const subscriptions = this.#subscriptions.splice(0);
    await Promise.all(subscriptions.map(({ subscription }) => subscription.stop()));
    const jsm = await jetstreamManager(this.options.nats).catch(() => undefined);
    if (!jsm) return;
    await Promise.all(
      subscriptions.map(({ context, durable }) => jsm.consumers.delete(streamName(context, this.options.store.namespace), durable).catch(() => undefined)),
    );
  }
}
