import type { BoundedContext } from '@tunnelkey/contracts';
import type { EventStore, RecordedEvent, Subscription } from '@tunnelkey/eventstore';
import { ProjectionEvolveError } from './errors.js';
import type { ProjectionSchema, ProjectionStore, Write } from './projection-store.js';

/** One event feed of a projection: a context, optionally one aggregate type of it. */
export interface ProjectionSource {
  context: BoundedContext;
  aggregate?: string;
}

/**
 * A read model kept in a ProjectionStore: its collections, the feeds it follows, and its own pure
 * `evolve` that turns one recorded event into writes (none for events it ignores). Writes need no
 * sequence: the runner stamps each with its event's.
 */
export interface StoredProjection extends ProjectionSchema {
  sources: readonly ProjectionSource[];
  evolve(recorded: RecordedEvent): readonly Write[];
}

/** The checkpoint and document-guard key of a feed: `registry`, or `registry:device` for one aggregate. */
export const sourceKey = (source: ProjectionSource): string => (source.aggregate ? `${source.context}:${source.aggregate}` : source.context);

export interface ProjectionRunnerOptions {
  store: ProjectionStore;
  events: EventStore;
  projection: StoredProjection;
  /**
   * Durable name prefix, one durable per source (`<durable>-<context>[-<aggregate>]`). With the
   * embedded store every process needs its own: its data lives and dies with the process.
   */
  durable: string;
  /** Events per commit while catching up from the log. Default 500. */
  batchSize?: number;
}

function evolveOne(projection: StoredProjection, recorded: RecordedEvent): Write[] {
  try {
    return projection.evolve(recorded).map((write) => ({ ...write, sequence: recorded.sequence }));
  } catch (error) {
    throw new ProjectionEvolveError('projection evolve failed', { projection: projection.name, type: recorded.event.type, sequence: recorded.sequence }, { cause: error });
  }
}

/**
 * Catches a source up from the log, from its stored checkpoint, committing every `batchSize`
 * events (one commit per event would make a rebuild of 10k devices round-trip-bound on MongoDB).
 * Returns the source's checkpoint afterwards.
 */
async function catchUp(store: ProjectionStore, events: EventStore, projection: StoredProjection, source: ProjectionSource, batchSize: number): Promise<number> {
  const key = sourceKey(source);
  const from = await store.checkpoint(projection.name, key);
  let pending: Write[] = [];
  let count = 0;
  let last = from;
  const flush = async () => {
    if (count === 0) return;
    await store.commit(projection.name, last, pending, { source: key });
    pending = [];
    count = 0;
  };
  await events.replay(
    source.context,
    async (recorded) => {
      for (const write of evolveOne(projection, recorded)) pending.push(write);
      last = recorded.sequence;
      if (++count >= batchSize) await flush();
    },
    { aggregate: source.aggregate, fromSequence: from + 1 },
  );
  await flush();
  return last;
}

/**
 * Feeds a StoredProjection from the event log. `start` first replays each source from its stored
 * checkpoint (so an empty embedded store is rebuilt from the log), then follows it with a durable
 * subscription. Each live event is one commit (its writes and the checkpoint); an event at or
 * below the checkpoint is skipped, and a redelivered one changes nothing (document guards), so a
 * restart resumes without loss or double counting.
 *
 * Replay-then-subscribe loses nothing: a durable only ever acked events that were in the log when
 * the replay read it, so wherever it resumes, the replay covered everything before.
 */
export class ProjectionRunner {
  readonly #options: ProjectionRunnerOptions;
  readonly #checkpoints = new Map<string, number>();
  #subscriptions: Subscription[] = [];

  private constructor(options: ProjectionRunnerOptions) {
    this.#options = options;
  }

  static async start(options: ProjectionRunnerOptions): Promise<ProjectionRunner> {
    const runner = new ProjectionRunner(options);
    await runner.#start();
    return runner;
  }

  async #start(): Promise<void> {
    const { store, projection } = this.#options;
    await store.define(projection);
    try {
      await this.#follow();
    } catch (error) {
      // A half-started runner must not keep following the sources it already started.
      await this.stop().catch(() => undefined);
      throw error;
    }
  }

  async #follow(): Promise<void> {
    const { store, events, projection, durable } = this.#options;
    for (const source of projection.sources) {
      const key = sourceKey(source);
      this.#checkpoints.set(key, await catchUp(store, events, projection, source, this.#options.batchSize ?? 500));
      const name = [durable, source.context, source.aggregate].filter(Boolean).join('-');
      const subscription = await events.subscribe({ durable: name, context: source.context, aggregate: source.aggregate, fromSequence: this.#checkpoints.get(key)! + 1 }, async (recorded) => {
        if (recorded.sequence <= (this.#checkpoints.get(key) ?? 0)) return;
        await store.commit(projection.name, recorded.sequence, evolveOne(projection, recorded), { source: key });
        this.#checkpoints.set(key, recorded.sequence);
      });
      this.#subscriptions.push(subscription);
    }
  }

  /** Last applied sequence per source key. */
  get checkpoints(): Record<string, number> {
    return Object.fromEntries(this.#checkpoints);
  }

  /** Resolves when every source handled what was in its log at the time of the call. */
  async caughtUp(): Promise<void> {
    await Promise.all(this.#subscriptions.map((s) => s.caughtUp()));
  }

  /** Stops following the log; what was committed stays, the rest is redelivered to the next run. */
  async stop(): Promise<void> {
    const subscriptions = this.#subscriptions;
    this.#subscriptions = [];
    await Promise.all(subscriptions.map((s) => s.stop()));
  }
}

/**
 * Rebuilds a projection from the log into `store`: deletes its data and checkpoints, then replays
 * every source. Returns the checkpoints reached. Stop its runner first.
 */
export async function rebuildStoredProjection(store: ProjectionStore, events: EventStore, projection: StoredProjection, options: { batchSize?: number } = {}): Promise<Record<string, number>> {
  await store.define(projection);
  await store.reset(projection.name);
  const checkpoints: Record<string, number> = {};
  for (const source of projection.sources) checkpoints[sourceKey(source)] = await catchUp(store, events, projection, source, options.batchSize ?? 500);
  return checkpoints;
}
