import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { streamName } from '@tunnelkey/contracts';
import type { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import {
  ProjectionRunner,
  type CommitOptions,
  type CommitResult,
  type CountByQuery,
  type FindQuery,
  type GroupCount,
  type Page,
  type ProjectionDocument,
  type ProjectionSchema,
  type ProjectionStore,
  type StoredProjection,
  type Write,
} from '@tunnelkey/projection-store';
import type { Logger } from 'pino';

export interface AppliedChange {
  projection: string;
  writes: readonly Write[];
}

export interface ReadModelsOptions {
  nats: NatsConnection;
  events: JetStreamEventStore;
  store: ProjectionStore;
  projections: readonly StoredProjection[];
  /** Durable name prefix: `<durable>-<projection>-<context>[-<aggregate>]`. */
  durable: string;
  /**
   * Delete the durables at stop: the embedded store is rebuilt from the log at each start, so its
   * durables are per process. A store that outlives the process (MongoDB, or one handed in) keeps
   * one durable name and resumes at its stored checkpoints.
   */
  ephemeralDurables: boolean;
  logger: Logger;
}

/**
 * The gateway's read models on the projection store: one ProjectionRunner per projection (replay
 * from the stored checkpoints, then durable subscriptions). Changes are observed at the store's
 * commits (the live view), events at the projections' evolve (metrics).
 */
export class ReadModels {
  readonly #runners: ProjectionRunner[] = [];
  readonly #changeListeners = new Set<(change: AppliedChange) => void>();
  readonly #appliedListeners: ((projection: string, context: string) => void)[] = [];
  readonly #store: ObservedStore;
  #caughtUp = false;

  constructor(private readonly options: ReadModelsOptions) {
    this.#store = new ObservedStore(options.store, (change) => {
      for (const listener of this.#changeListeners) listener(change);
    });
  }

  /** The store the queries read (the one the runners write). */
  get store(): ProjectionStore {
    return this.#store;
  }

  get caughtUp(): boolean {
    return this.#caughtUp;
  }

  onChange(listener: (change: AppliedChange) => void): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  /** Called once per event a projection evolved (metrics). */
  onApplied(listener: (projection: string, context: string) => void): void {
    this.#appliedListeners.push(listener);
  }

  async start(): Promise<void> {
    const { events, projections, logger, durable } = this.options;
    await events.ensureStreams([...new Set(projections.flatMap((p) => p.sources.map((s) => s.context)))]);
    const started = Date.now();
    let evolved = 0;
    for (const projection of projections) {
      const counted: StoredProjection = {
        ...projection,
        evolve: (recorded) => {
          const writes = projection.evolve(recorded);
          evolved++;
          const context = recorded.subject.split('.').find((token) => projection.sources.some((s) => s.context === token)) ?? 'unknown';
          for (const listener of this.#appliedListeners) listener(projection.name, context);
          return writes;
        },
      };
      this.#runners.push(await ProjectionRunner.start({ store: this.#store, events, projection: counted, durable: `${durable}-${projection.name}` }));
    }
    await Promise.all(this.#runners.map((runner) => runner.caughtUp()));
    this.#caughtUp = true;
    logger.info({ event: 'gateway.projections_caught_up', store: this.options.store.kind, evolved, ms: Date.now() - started }, 'read models caught up');
  }

  /** Last applied sequence per projection and source. */
  checkpoints(): Record<string, Record<string, number>> {
    return Object.fromEntries(this.#runners.map((runner, i) => [this.options.projections[i]!.name, runner.checkpoints]));
  }

  async stop(): Promise<void> {
    this.#caughtUp = false;
    const runners = this.#runners.splice(0);
    await Promise.all(runners.map((runner) => runner.stop()));
    if (!this.options.ephemeralDurables) return;
    const jsm = await jetstreamManager(this.options.nats).catch(() => undefined);
    if (!jsm) return;
    const { events, durable } = this.options;
    await Promise.all(
      this.options.projections.flatMap((projection) =>
        projection.sources.map((source) =>
          jsm.consumers.delete(streamName(source.context, events.namespace), [durable, projection.name, source.context, source.aggregate].filter(Boolean).join('-')).catch(() => undefined),
        ),
      ),
    );
  }
}

/** The store, telling `listener` what each commit wrote once it is stored. */
class ObservedStore implements ProjectionStore {
  constructor(
    private readonly inner: ProjectionStore,
    private readonly listener: (change: AppliedChange) => void,
  ) {}

  get kind() {
    return this.inner.kind;
  }

  define(schema: ProjectionSchema): Promise<void> {
    return this.inner.define(schema);
  }

  checkpoint(projection: string, source?: string): Promise<number> {
    return this.inner.checkpoint(projection, source);
  }

  checkpoints(projection: string): Promise<Record<string, number>> {
    return this.inner.checkpoints(projection);
  }

  async commit(projection: string, sequence: number, writes: readonly Write[], options?: CommitOptions): Promise<CommitResult> {
    const result = await this.inner.commit(projection, sequence, writes, options);
    if (result.applied > 0) this.listener({ projection, writes });
    return result;
  }

  get<T extends ProjectionDocument = ProjectionDocument>(projection: string, collection: string, id: string): Promise<T | undefined> {
    return this.inner.get<T>(projection, collection, id);
  }

  find<T extends ProjectionDocument = ProjectionDocument>(projection: string, collection: string, query?: FindQuery): Promise<Page<T>> {
    return this.inner.find<T>(projection, collection, query);
  }

  countBy(projection: string, collection: string, query: CountByQuery): Promise<GroupCount[]> {
    return this.inner.countBy(projection, collection, query);
  }

  reset(projection: string): Promise<void> {
    return this.inner.reset(projection);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
