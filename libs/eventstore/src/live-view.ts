/**
 * The one way a service keeps a read model: rebuild it from the log (from its checkpoint), follow
 * the log live, catch up on demand, stop. No durable consumer is involved: the view's checkpoint
 * is its position, so a view that lives in memory is rebuilt at every start and a view persisted
 * elsewhere (the gateway's projection store) resumes from the checkpoint it saved with its data.
 */
import type { BoundedContext } from '@tunnelkey/contracts';
import { describeError } from '@tunnelkey/errors';
import { pino, type Logger } from 'pino';
import { SubscriptionError } from './errors.js';
import type { EventStore, RecordedEvent, Subscription } from './event-store.js';
import {
  decodeViewCheckpoint,
  encodeViewCheckpoint,
  viewCheckpointKey,
  type ViewCheckpointPolicy,
  type ViewCheckpointStore,
} from './view-checkpoints.js';

/** One event feed of a view: a context, optionally one aggregate type of it. */
export interface LiveViewSource {
  context: BoundedContext;
  aggregate?: string;
}

/** `registry`, or `registry:device` for one aggregate type: a source's name in checkpoints and logs. */
export const sourceKey = (source: LiveViewSource): string =>
  source.aggregate ? `${source.context}:${source.aggregate}` : source.context;

export interface LiveFeedOptions {
  /** Names the feed in logs. */
  name: string;
  sources: readonly LiveViewSource[];
  /** The last sequence already applied per source (a persisted view's checkpoint). Default 0: from the start. */
  checkpoint?: (source: LiveViewSource) => number | Promise<number>;
  /**
   * Applies one event. Called in log order per source and never concurrently for one source.
   * Sources are independent streams: no order holds between them.
   */
  apply: (recorded: RecordedEvent, source: LiveViewSource) => void | Promise<void>;
  /**
   * Persists what was applied up to `checkpoint` (a persisted view commits here): after every
   * `rebuildBatch` events while rebuilding, at the end of the rebuild, and after each live event.
   * A live event whose flush fails is applied and flushed again, so `apply` must tolerate that.
   */
  flush?: (source: LiveViewSource, checkpoint: number) => void | Promise<void>;
  /** Events applied between flushes while rebuilding. Default 500. */
  rebuildBatch?: number;
  /** Waits before applying a failed event again (the last one repeats). Default 100 ms .. 5 s. */
  retryBackoffMs?: readonly number[];
  logger?: Logger;
}

interface SourceFeed {
  source: LiveViewSource;
  checkpoint: number;
  subscription?: Subscription;
  /** Live events wait here for the ones before them. */
  chain: Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Rebuild-then-follow over one or more sources. A live event that fails to apply is applied again
 * with backoff until it succeeds or the feed stops (a view never skips an event); `ready` is false
 * meanwhile, and false until the rebuild is done.
 */
export class LiveFeed {
  readonly #feeds: SourceFeed[];
  readonly #logger: Logger;
  #rebuilt = false;
  #failing = 0;
  #stopped = false;

  private constructor(
    private readonly store: EventStore,
    private readonly options: LiveFeedOptions,
  ) {
    this.#feeds = options.sources.map((source) => ({ source, checkpoint: 0, chain: Promise.resolve() }));
    this.#logger = options.logger ?? pino({ name: 'eventstore' });
  }

  /** Rebuilds every source from its checkpoint, then follows them all; resolves once rebuilt. */
  static async start(store: EventStore, options: LiveFeedOptions): Promise<LiveFeed> {
    const feed = new LiveFeed(store, options);
    try {
      for (const source of feed.#feeds) await feed.#rebuild(source);
      for (const source of feed.#feeds) await feed.#follow(source);
    } catch (error) {
      await feed.stop();
      throw error;
    }
    feed.#rebuilt = true;
    return feed;
  }

  /** Rebuilt, following, and no event waiting on a retry. */
  get ready(): boolean {
    return this.#rebuilt && !this.#stopped && this.#failing === 0;
  }

  /** The last sequence applied from a source. */
  checkpoint(source: LiveViewSource): number {
    return this.#feeds.find((f) => sourceKey(f.source) === sourceKey(source))?.checkpoint ?? 0;
  }

  /** Resolves once every event in the sources (or only `sources`) at the time of the call is applied. */
  async catchUp(sources?: readonly LiveViewSource[]): Promise<void> {
    if (this.#stopped) throw new SubscriptionError('live view stopped', { view: this.options.name });
    const only = sources && new Set(sources.map(sourceKey));
    await Promise.all(
      this.#feeds
        .filter((feed) => !only || only.has(sourceKey(feed.source)))
        .map(async (feed) => {
          await feed.subscription?.caughtUp();
          await feed.chain;
        }),
    );
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#feeds.map((feed) => feed.subscription?.stop()));
    await Promise.all(this.#feeds.map((feed) => feed.chain));
  }

  async #rebuild(feed: SourceFeed): Promise<void> {
    const { source } = feed;
    const batch = this.options.rebuildBatch ?? 500;
    feed.checkpoint = (await this.options.checkpoint?.(source)) ?? 0;
    const from = feed.checkpoint;
    let unflushed = 0;
    await this.store.replay(
      source.context,
      async (recorded) => {
        await this.options.apply(recorded, source);
        feed.checkpoint = recorded.sequence;
        if (++unflushed >= batch && this.options.flush) {
          await this.options.flush(source, feed.checkpoint);
          unflushed = 0;
        }
      },
      { ...(source.aggregate ? { aggregate: source.aggregate } : {}), fromSequence: from + 1 },
    );
    if (unflushed > 0) await this.options.flush?.(source, feed.checkpoint);
  }

  async #follow(feed: SourceFeed): Promise<void> {
    const { source } = feed;
    feed.subscription = await this.store.follow(
      source.context,
      (recorded) => {
        feed.chain = feed.chain.then(() => this.#applyLive(feed, recorded));
      },
      { ...(source.aggregate ? { aggregate: source.aggregate } : {}), fromSequence: feed.checkpoint + 1 },
    );
  }

  async #applyLive(feed: SourceFeed, recorded: RecordedEvent): Promise<void> {
    const backoff = this.options.retryBackoffMs?.length ? this.options.retryBackoffMs : [100, 500, 2_000, 5_000];
    for (let attempt = 0; !this.#stopped; attempt++) {
      // A follower re-created after a gap may deliver again what was applied.
      if (recorded.sequence <= feed.checkpoint) return;
      try {
        await this.options.apply(recorded, feed.source);
        // Advanced once flushed: a failed flush is retried with the event (else it would be skipped).
        await this.options.flush?.(feed.source, recorded.sequence);
        feed.checkpoint = recorded.sequence;
        if (attempt > 0) this.#failing--;
        return;
      } catch (error) {
        if (attempt === 0) this.#failing++;
        const context = {
          view: this.options.name,
          source: sourceKey(feed.source),
          sequence: recorded.sequence,
          type: recorded.event.type,
          attempt,
        };
        this.#logger.error(
          { event: 'eventstore.live_view_apply_failed', ...context, error: describeError(error) },
          'live view could not apply an event; retrying',
        );
        await sleep(backoff[Math.min(attempt, backoff.length - 1)]!);
      }
    }
  }
}

/** A read model held in memory: its own state and `evolve`, over one or more sources. */
export interface LiveViewDefinition<S> {
  name: string;
  sources: readonly LiveViewSource[];
  initialState: () => S;
  /** Folds one event in; may update the state in place and return it. */
  evolve: (state: S, recorded: RecordedEvent) => S;
  /**
   * Checkpoints the view (state + last sequence per source) in the store's `viewCheckpointStore`:
   * a start loads the newest one of this version and replays only what follows. The state must be
   * plain data, Maps and Sets. Without it the view is rebuilt from the whole log at every start.
   */
  checkpoint?: ViewCheckpointPolicy<S>;
}

const defaultCheckpointEvery = 10_000;
const defaultCheckpointIntervalMs = 60_000;
/** Waits before a failed checkpoint save is tried again (the last one repeats). */
const saveRetryMs = [1_000, 5_000, 30_000];

/**
 * An in-memory read model on a LiveFeed: rebuilt at every start from its newest checkpoint (or
 * from the log's start), then followed. With a checkpoint policy it saves a checkpoint after the
 * rebuild (when it replayed anything), every `everyEvents` live events but no more often than
 * `minIntervalMs` (at most one save running), and at stop.
 */
export class LiveView<S> {
  #state: S;
  #feed: LiveFeed | undefined;
  /** The last sequence folded in per source, moved in the same synchronous step as the state. */
  readonly #positions: Record<string, number> = {};
  #sinceSave = 0;
  #saving: Promise<void> | undefined;
  #scheduled = false;
  #lastSaveStarted = Number.NEGATIVE_INFINITY;
  #checkpoints: ViewCheckpointStore | undefined;
  #logger: Logger;
  #failedSaves = 0;
  #retry: NodeJS.Timeout | undefined;
  #stopped = false;

  private constructor(
    readonly definition: LiveViewDefinition<S>,
    logger: Logger | undefined,
  ) {
    this.#state = definition.initialState();
    this.#logger = logger ?? pino({ name: 'eventstore' });
    for (const source of definition.sources) this.#positions[sourceKey(source)] = 0;
  }

  static async start<S>(
    store: EventStore,
    definition: LiveViewDefinition<S>,
    options: { logger?: Logger } = {},
  ): Promise<LiveView<S>> {
    const view = new LiveView(definition, options.logger);
    const policy = definition.checkpoint;
    if (policy) {
      view.#checkpoints = await store.viewCheckpointStore();
      await view.#load(policy);
    }
    const loaded = { ...view.#positions };
    view.#feed = await LiveFeed.start(store, {
      name: definition.name,
      sources: definition.sources,
      checkpoint: (source) => loaded[sourceKey(source)] ?? 0,
      apply: (recorded, source) => {
        view.#state = definition.evolve(view.#state, recorded);
        view.#positions[sourceKey(source)] = recorded.sequence;
        if (
          policy &&
          ++view.#sinceSave >= (policy.everyEvents ?? defaultCheckpointEvery) &&
          view.#feed &&
          performance.now() - view.#lastSaveStarted >= (policy.minIntervalMs ?? defaultCheckpointIntervalMs)
        )
          view.#saveInBackground();
      },
      ...(options.logger ? { logger: options.logger } : {}),
    });
    // The rebuild replayed events: keep what it folded for the next start (not awaited: ready now).
    if (policy && view.#sinceSave > 0) view.#saveInBackground();
    return view;
  }

  get state(): S {
    return this.#state;
  }

  get ready(): boolean {
    return this.#feed?.ready ?? false;
  }

  checkpoint(source: LiveViewSource): number {
    return this.#feed?.checkpoint(source) ?? 0;
  }

  /** Resolves once every event in the view's sources (or only `sources`) at the time of the call is folded in. */
  catchUp(sources?: readonly LiveViewSource[]): Promise<void> {
    return this.#feed ? this.#feed.catchUp(sources) : Promise.resolve();
  }

  /**
   * Takes a checkpoint now (state and positions read in one synchronous step) and stores it;
   * resolves once stored. Nothing to do without a checkpoint policy, or when nothing was folded in
   * since the last save.
   */
  async saveCheckpoint(): Promise<void> {
    const policy = this.definition.checkpoint;
    const checkpoints = this.#checkpoints;
    if (!policy || !checkpoints) return;
    await this.#saving?.catch(() => undefined);
    if (this.#sinceSave === 0) return;
    const started = performance.now();
    this.#lastSaveStarted = started;
    const events = this.#sinceSave;
    const state = policy.toCheckpoint ? policy.toCheckpoint(this.#state) : this.#state;
    const data = encodeViewCheckpoint(policy.version, { state, positions: { ...this.#positions } });
    this.#sinceSave = 0;
    const saving = checkpoints.save(viewCheckpointKey(policy.owner, this.definition.name), data);
    this.#saving = saving;
    try {
      await saving;
      this.#failedSaves = 0;
      this.#logger.info(
        {
          event: 'eventstore.view_checkpoint_saved',
          view: this.definition.name,
          positions: this.#positions,
          bytes: data.byteLength,
          events,
          ms: Math.round(performance.now() - started),
        },
        'view checkpoint saved',
      );
    } catch (error) {
      this.#sinceSave += events;
      throw error;
    } finally {
      if (this.#saving === saving) this.#saving = undefined;
    }
  }

  async stop(): Promise<void> {
    if (!this.#feed) return;
    this.#stopped = true;
    clearTimeout(this.#retry);
    await this.#feed.stop();
    // Nothing is folded in any more: the checkpoint taken now is what the next start replays from.
    if (this.#sinceSave > 0) await this.saveCheckpoint().catch((error: unknown) => this.#saveFailed(error));
    else await this.#saving?.catch(() => undefined);
  }

  /** One save scheduled at a time; it waits for the one running, then checkpoints what is folded by then. */
  #saveInBackground(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    void (async () => {
      await this.#saving?.catch(() => undefined);
      await new Promise((resolve) => setImmediate(resolve));
      this.#scheduled = false;
      await this.saveCheckpoint().catch((error: unknown) => this.#saveFailed(error));
    })();
  }

  /**
   * A failed save is tried again after a backoff while the view runs (it would otherwise wait for
   * `everyEvents` more events, which may never come once a batch is done).
   */
  #saveFailed(error: unknown): void {
    const retryInMs = saveRetryMs[Math.min(this.#failedSaves++, saveRetryMs.length - 1)]!;
    this.#logger.warn(
      {
        event: 'eventstore.view_checkpoint_failed',
        view: this.definition.name,
        retryInMs,
        error: describeError(error),
      },
      'view checkpoint not saved; trying again (until then a start replays more of the log)',
    );
    if (this.#stopped) return;
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => this.#saveInBackground(), retryInMs);
    this.#retry.unref();
  }

  async #load(policy: ViewCheckpointPolicy<S>): Promise<void> {
    const key = viewCheckpointKey(policy.owner, this.definition.name);
    let data: Uint8Array | undefined;
    try {
      data = await this.#checkpoints!.load(key);
    } catch (error) {
      this.#logger.warn(
        { event: 'eventstore.view_checkpoint_unavailable', view: this.definition.name, error: describeError(error) },
        'view checkpoint could not be loaded; rebuilding from the log',
      );
      return;
    }
    if (!data) return;
    const decoded = decodeViewCheckpoint<unknown>(policy.version, data);
    if ('ignored' in decoded) {
      this.#logger.warn(
        { event: 'eventstore.view_checkpoint_ignored', view: this.definition.name, reason: decoded.ignored },
        'view checkpoint ignored; rebuilding from the log',
      );
      return;
    }
    const { positions, state } = decoded.checkpoint;
    const sources = this.definition.sources.map(sourceKey);
    if (Object.keys(positions).length !== sources.length || sources.some((source) => !(source in positions))) {
      this.#logger.warn(
        { event: 'eventstore.view_checkpoint_ignored', view: this.definition.name, reason: 'other sources' },
        'view checkpoint ignored; rebuilding from the log',
      );
      return;
    }
    this.#state = policy.fromCheckpoint ? policy.fromCheckpoint(state) : (state as S);
    Object.assign(this.#positions, positions);
  }
}
