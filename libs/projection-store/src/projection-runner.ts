import {
  LiveFeed,
  sourceKey,
  type EventStore,
  type LiveFeedOptions,
  type LiveViewSource,
  type RecordedEvent,
} from '@tunnelkey/eventstore';
import { ProjectionEvolveError } from './errors.js';
import type { ProjectionSchema, ProjectionStore, Write } from './projection-store.js';

/** One event feed of a projection: a context, optionally one aggregate type of it. */
export type ProjectionSource = LiveViewSource;

/**
 * A read model kept in a ProjectionStore: its collections, the feeds it follows, and its own pure
 * `evolve` that turns one recorded event into writes (none for events it ignores). Writes need no
 * sequence: the runner stamps each with its event's.
 */
export interface StoredProjection extends ProjectionSchema {
  sources: readonly ProjectionSource[];
  evolve(recorded: RecordedEvent): readonly Write[];
}

export interface ProjectionRunnerOptions {
  store: ProjectionStore;
  events: EventStore;
  projection: StoredProjection;
  /** Events per commit while rebuilding from the log. Default 500. */
  batchSize?: number;
  /** Waits before a failed live commit is tried again (see LiveFeed). */
  retryBackoffMs?: readonly number[];
  logger?: LiveFeedOptions['logger'];
}

function evolveOne(projection: StoredProjection, recorded: RecordedEvent): Write[] {
  try {
    return projection.evolve(recorded).map((write) => ({ ...write, sequence: recorded.sequence }));
  } catch (error) {
    const context = { projection: projection.name, type: recorded.event.type, sequence: recorded.sequence };
    throw new ProjectionEvolveError('projection evolve failed', context, { cause: error });
  }
}

/**
 * Feeds a StoredProjection from the event log on a `LiveFeed`: its position is the checkpoint
 * stored next to the data, so no durable consumer exists (nothing to name, nothing to delete).
 * `start` rebuilds each source from its stored checkpoint (an empty embedded store from the
 * start of the log), committing every `batchSize` events (one commit per event would make a
 * rebuild of 10k devices round-trip-bound on MongoDB), then follows the log with one commit per
 * live event. Every write carries its event's sequence, so a batch committed again after a crash
 * between its data and its checkpoint changes nothing twice (document guards).
 */
export class ProjectionRunner {
  readonly #options: ProjectionRunnerOptions;
  /** Writes applied but not committed yet, per source and event sequence (a retried event replaces its own). */
  readonly #pending = new Map<string, Map<number, Write[]>>();
  #feed: LiveFeed | undefined;

  private constructor(options: ProjectionRunnerOptions) {
    this.#options = options;
  }

  /** Rebuilds from the stored checkpoints, then follows the log; resolves once rebuilt. */
  static async start(options: ProjectionRunnerOptions): Promise<ProjectionRunner> {
    const { store, events, projection } = options;
    await store.define(projection);
    const runner = new ProjectionRunner(options);
    runner.#feed = await LiveFeed.start(events, {
      name: projection.name,
      sources: projection.sources,
      checkpoint: (source) => store.checkpoint(projection.name, sourceKey(source)),
      apply: (recorded, source) =>
        void runner.#pendingOf(source).set(recorded.sequence, evolveOne(projection, recorded)),
      flush: (source, checkpoint) => runner.#commit(source, checkpoint),
      ...(options.batchSize ? { rebuildBatch: options.batchSize } : {}),
      ...(options.retryBackoffMs ? { retryBackoffMs: options.retryBackoffMs } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
    return runner;
  }

  #pendingOf(source: ProjectionSource): Map<number, Write[]> {
    const key = sourceKey(source);
    let pending = this.#pending.get(key);
    if (!pending) this.#pending.set(key, (pending = new Map()));
    return pending;
  }

  async #commit(source: ProjectionSource, checkpoint: number): Promise<void> {
    const pending = this.#pendingOf(source);
    const writes = [...pending.values()].flat();
    // Kept until stored: a failed commit is retried with the same writes.
    await this.#options.store.commit(this.#options.projection.name, checkpoint, writes, { source: sourceKey(source) });
    pending.clear();
  }

  /** Last applied sequence per source key. */
  get checkpoints(): Record<string, number> {
    return Object.fromEntries(
      this.#options.projection.sources.map((source) => [sourceKey(source), this.#feed?.checkpoint(source) ?? 0]),
    );
  }

  /** Rebuilt, following, and no commit waiting on a retry. */
  get ready(): boolean {
    return this.#feed?.ready ?? false;
  }

  /** Resolves when every source handled what was in its log at the time of the call. */
  async caughtUp(): Promise<void> {
    await this.#feed?.catchUp();
  }

  /** Stops following the log; what was committed stays, and the next start resumes after it. */
  async stop(): Promise<void> {
    await this.#feed?.stop();
  }
}

/**
 * Rebuilds a projection from the log into `store`: deletes its data and checkpoints, then replays
 * every source. Returns the checkpoints reached. Stop its runner first.
 */
export async function rebuildStoredProjection(
  store: ProjectionStore,
  events: EventStore,
  projection: StoredProjection,
  options: { batchSize?: number } = {},
): Promise<Record<string, number>> {
  await store.define(projection);
  await store.reset(projection.name);
  const runner = await ProjectionRunner.start({ store, events, projection, ...options });
  await runner.stop();
  return runner.checkpoints;
}
