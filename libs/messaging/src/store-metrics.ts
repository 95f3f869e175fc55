import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { BoundedContext, EventEnvelope } from '@tunnelkey/contracts';
import {
  isConcurrencyError,
  type AppendOptions,
  type AppendResult,
  type EventHandler,
  type EventStore,
  type ReadOptions,
  type ReadResult,
  type RecordedEvent,
  type ReplayOptions,
  type StreamRef,
  type Subscription,
  type SubscriptionOptions,
} from '@tunnelkey/eventstore';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Where the lag of a consumer is read from: the log's head and a durable's pending count (JetStream). */
export interface LagSource {
  /** The last sequence of the context's stream. */
  head(context: BoundedContext): Promise<number>;
  /** Events the durable has not acknowledged yet (pending + in flight). */
  pending(context: BoundedContext, durable: string): Promise<number>;
}

/** The lag source of a JetStream event store on `nats`; `streamName` as the store names its streams. */
export function jetStreamLagSource(nats: NatsConnection, streamName: (context: BoundedContext) => string): LagSource {
  let manager: Promise<JetStreamManager> | undefined;
  const jsm = () => (manager ??= jetstreamManager(nats));
  return {
    async head(context) {
      return (await (await jsm()).streams.info(streamName(context))).state.last_seq;
    },
    async pending(context, durable) {
      const info = await (await jsm()).consumers.info(streamName(context), durable);
      return info.num_pending + info.num_ack_pending;
    },
  };
}

interface Follower {
  kind: 'durable' | 'view';
  name: string;
  context: BoundedContext;
  /** A view reading one aggregate type: its lag from the stream's head is an upper bound. */
  filtered: boolean;
  position: number;
}

/** A scrape never waits on a bus that is away longer than this: the lag is left out instead. */
const lagTimeoutMs = 2_000;

const withTimeout = <T>(promise: Promise<T>): Promise<T | undefined> =>
  Promise.race([
    promise.catch(() => undefined),
    new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), lagTimeoutMs).unref()),
  ]);

/**
 * The event store's metrics in a service's registry: append latency, conflicts and failures per
 * context, the position of every durable reaction and live view, and their lag behind the log
 * (read from `lag` at scrape time; without one, positions only).
 */
export class StoreMetrics {
  readonly #followers = new Set<Follower>();
  readonly appendSeconds: Histogram<'context' | 'outcome'>;
  readonly appendConflicts: Counter<'context'>;

  constructor(registry: Registry, lag?: LagSource) {
    this.appendSeconds = new Histogram({
      name: 'eventstore_append_seconds',
      help: 'Time of one event-store append (all its events), by context and outcome (ok, conflict, failed)',
      labelNames: ['context', 'outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
    this.appendConflicts = new Counter({
      name: 'eventstore_append_conflicts_total',
      help: 'Appends refused because the stream moved on (expected version no longer current), by context',
      labelNames: ['context'],
      registers: [registry],
    });
    const followers = this.#followers;
    new Gauge({
      name: 'eventstore_consumer_position',
      help: 'Last log sequence a durable reaction or live view has handled, by kind and name',
      labelNames: ['kind', 'name', 'context'],
      registers: [registry],
      collect() {
        this.reset();
        for (const f of followers) this.set({ kind: f.kind, name: f.name, context: f.context }, f.position);
      },
    });
    if (lag) {
      new Gauge({
        name: 'eventstore_consumer_lag_events',
        help: "Events in the log a durable reaction has not acknowledged, or a live view has not folded in (a view reading one aggregate type: upper bound, counted from the stream's head), by kind and name",
        labelNames: ['kind', 'name', 'context'],
        registers: [registry],
        async collect() {
          this.reset();
          const heads = new Map<BoundedContext, Promise<number | undefined>>();
          const headOf = (context: BoundedContext) => {
            if (!heads.has(context)) heads.set(context, withTimeout(lag.head(context)));
            return heads.get(context)!;
          };
          await Promise.all(
            [...followers].map(async (f) => {
              const value =
                f.kind === 'durable'
                  ? await withTimeout(lag.pending(f.context, f.name))
                  : await headOf(f.context).then((head) =>
                      head === undefined ? undefined : Math.max(0, head - f.position),
                    );
              if (value !== undefined) this.set({ kind: f.kind, name: f.name, context: f.context }, value);
            }),
          );
        },
      });
    }
  }

  /** Tracks a follower while it runs; the returned function stops tracking it. */
  track(follower: Follower): () => void {
    this.#followers.add(follower);
    return () => this.#followers.delete(follower);
  }
}

/**
 * The event store with its metrics: every call goes to `inner`; appends are timed and their
 * conflicts counted, durable subscriptions and followers tracked. `viewName` labels the followers
 * of a store handed to one view (`forView`).
 */
export class MeteredEventStore implements EventStore {
  constructor(
    private readonly inner: EventStore,
    private readonly metrics: StoreMetrics,
    private readonly viewName?: string,
  ) {}

  /** The same store, its followers labelled with the view's name. */
  forView(viewName: string): EventStore {
    return new MeteredEventStore(this.inner, this.metrics, viewName);
  }

  ensureStreams(contexts: readonly BoundedContext[]): Promise<void> {
    return this.inner.ensureStreams(contexts);
  }

  async append(stream: StreamRef, events: readonly EventEnvelope[], options: AppendOptions): Promise<AppendResult> {
    const end = this.metrics.appendSeconds.startTimer({ context: stream.context });
    try {
      const result = await this.inner.append(stream, events, options);
      end({ outcome: 'ok' });
      return result;
    } catch (error) {
      const conflict = isConcurrencyError(error);
      end({ outcome: conflict ? 'conflict' : 'failed' });
      if (conflict) this.metrics.appendConflicts.inc({ context: stream.context });
      throw error;
    }
  }

  read(stream: StreamRef, options?: ReadOptions): Promise<ReadResult> {
    return this.inner.read(stream, options);
  }

  async subscribe(options: SubscriptionOptions, handler: EventHandler): Promise<Subscription> {
    const follower: Follower = {
      kind: 'durable',
      name: options.durable,
      context: options.context,
      filtered: options.aggregate !== undefined,
      position: Math.max(0, (options.fromSequence ?? 1) - 1),
    };
    const subscription = await this.inner.subscribe(options, async (recorded: RecordedEvent) => {
      await handler(recorded);
      follower.position = Math.max(follower.position, recorded.sequence);
    });
    return this.#tracked(follower, subscription);
  }

  replay(context: BoundedContext, handler: EventHandler, options?: ReplayOptions): Promise<number> {
    return this.inner.replay(context, handler, options);
  }

  async follow(
    context: BoundedContext,
    handler: (recorded: RecordedEvent) => void,
    options?: ReplayOptions,
  ): Promise<Subscription> {
    const follower: Follower = {
      kind: 'view',
      name: this.viewName ?? `${context}${options?.aggregate ? `.${options.aggregate}` : ''}`,
      context,
      filtered: options?.aggregate !== undefined,
      position: Math.max(0, (options?.fromSequence ?? 1) - 1),
    };
    const subscription = await this.inner.follow(
      context,
      (recorded) => {
        handler(recorded);
        follower.position = recorded.sequence;
      },
      options,
    );
    return this.#tracked(follower, subscription);
  }

  snapshotStore() {
    return this.inner.snapshotStore();
  }

  viewCheckpointStore() {
    return this.inner.viewCheckpointStore();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  #tracked(follower: Follower, subscription: Subscription): Subscription {
    const untrack = this.metrics.track(follower);
    return {
      stop: async () => {
        untrack();
        await subscription.stop();
      },
      caughtUp: () => subscription.caughtUp(),
    };
  }
}

/** The store a view should follow with: labelled with its name when the platform meters the store. */
export const storeForView = (store: EventStore, viewName: string): EventStore =>
  store instanceof MeteredEventStore ? store.forView(viewName) : store;
