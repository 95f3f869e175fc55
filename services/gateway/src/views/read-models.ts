import type { OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import type { BoundedContext } from '@tunnelkey/contracts';
import type { EventStore } from '@tunnelkey/eventstore';
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
import { catalogProjection } from './catalog.view.js';
import { deviceHistoryProjection } from './device-history.view.js';
import { fleetProjection } from './fleet.view.js';

/** The gateway's persisted views, in the order they are rebuilt. */
export const gatewayViews: readonly StoredProjection[] = [fleetProjection, catalogProjection, deviceHistoryProjection];

export interface AppliedChange {
  projection: string;
  writes: readonly Write[];
}

export interface ReadModelsOptions {
  events: EventStore;
  store: ProjectionStore;
  projections?: readonly StoredProjection[];
  logger: Logger;
  /** Close `store` at stop (the gateway opened it); a store handed in stays open for its owner. */
  closeStore?: boolean;
  /** Waits before a failed live commit is tried again (tests). */
  retryBackoffMs?: readonly number[];
}

/**
 * The gateway's read models on the projection store: one ProjectionRunner (a LiveFeed whose
 * position is the checkpoint stored with the data) per view. Nothing is named on the bus, so a
 * restart resumes from the stored checkpoints and an empty embedded store rebuilds from the log.
 * Changes are observed at the store's commits (the live updates), events at the views' evolve
 * (metrics).
 */
export class ReadModels implements OnApplicationBootstrap, OnModuleDestroy {
  readonly #runners: ProjectionRunner[] = [];
  readonly #changeListeners = new Set<(change: AppliedChange) => void>();
  readonly #commitListeners = new Set<(change: AppliedChange) => void>();
  readonly #appliedListeners: ((projection: string, context: string) => void)[] = [];
  readonly #store: ObservedStore;
  readonly #projections: readonly StoredProjection[];
  #starting: Promise<void> | undefined;
  #started = false;
  #stopped = false;
  #stopping: Promise<void> | undefined;

  constructor(private readonly options: ReadModelsOptions) {
    this.#projections = options.projections ?? gatewayViews;
    this.#store = new ObservedStore(options.store, (change, applied) => {
      for (const listener of this.#commitListeners) listener(change);
      if (applied) for (const listener of this.#changeListeners) listener(change);
    });
  }

  /** The store the queries read (the one the runners write). */
  get store(): ProjectionStore {
    return this.#store;
  }

  /** Rebuilt, following the log, and no commit waiting on a retry (readiness). */
  get ready(): boolean {
    return this.#started && !this.#stopped && this.#runners.every((runner) => runner.ready);
  }

  onChange(listener: (change: AppliedChange) => void): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  /**
   * Every commit's writes once stored, applied or not: with a store shared by several gateways
   * (MongoDB) another instance may have applied them first, and what this instance keeps derived
   * from the documents (kept-devices.ts) must still be dropped.
   */
  onCommitted(listener: (change: AppliedChange) => void): () => void {
    this.#commitListeners.add(listener);
    return () => this.#commitListeners.delete(listener);
  }

  /** Called once per event a view evolved (metrics). */
  onApplied(listener: (projection: string, context: string) => void): void {
    this.#appliedListeners.push(listener);
  }

  /**
   * Starts the rebuild without waiting for it, so the HTTP API is up meanwhile (`/ready` says
   * when it is done); whoever needs it done awaits `start()`, and hears of a failure there.
   */
  onApplicationBootstrap(): void {
    this.start().catch(() => undefined);
  }

  async onModuleDestroy(): Promise<void> {
    await this.stop();
  }

  /** Rebuilds every view from its stored checkpoints, then follows the log. Idempotent. */
  start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const { events, logger } = this.options;
    const projections = this.#projections;
    await events.ensureStreams([...new Set(projections.flatMap((p) => p.sources.map((s) => s.context)))]);
    const started = Date.now();
    let evolved = 0;
    for (const projection of projections) {
      if (this.#stopped) return;
      const counted: StoredProjection = {
        ...projection,
        evolve: (recorded) => {
          const writes = projection.evolve(recorded);
          evolved++;
          const context = contextOf(
            recorded.subject,
            projection.sources.map((s) => s.context),
          );
          for (const listener of this.#appliedListeners) listener(projection.name, context);
          return writes;
        },
      };
      this.#runners.push(
        await ProjectionRunner.start({
          store: this.#store,
          events,
          projection: counted,
          logger,
          ...(this.options.retryBackoffMs ? { retryBackoffMs: this.options.retryBackoffMs } : {}),
        }),
      );
    }
    this.#started = true;
    const kind = this.options.store.kind;
    logger.info(
      { event: 'gateway.projections_caught_up', store: kind, evolved, ms: Date.now() - started },
      'read models caught up',
    );
  }

  /** Resolves once every event in the log at the time of the call is applied. */
  async catchUp(): Promise<void> {
    await this.start();
    await Promise.all(this.#runners.map((runner) => runner.caughtUp()));
  }

  /** Last applied sequence per view and source. */
  checkpoints(): Record<string, Record<string, number>> {
    return Object.fromEntries(this.#runners.map((runner, i) => [this.#projections[i]!.name, runner.checkpoints]));
  }

  /** Stops following the log (after a start in progress); closes the store if the gateway opened it. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#stopped = true;
    await this.#starting?.catch(() => undefined);
    await Promise.all(this.#runners.splice(0).map((runner) => runner.stop()));
    if (this.options.closeStore) await this.options.store.close();
  }
}

function contextOf(subject: string, contexts: readonly BoundedContext[]): string {
  return subject.split('.').find((token) => contexts.includes(token as BoundedContext)) ?? 'unknown';
}

/** The store, telling `listener` what each commit wrote once it is stored, and whether it changed anything. */
class ObservedStore implements ProjectionStore {
  constructor(
    private readonly inner: ProjectionStore,
    private readonly listener: (change: AppliedChange, applied: boolean) => void,
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

  async commit(
    projection: string,
    sequence: number,
    writes: readonly Write[],
    options?: CommitOptions,
  ): Promise<CommitResult> {
    const result = await this.inner.commit(projection, sequence, writes, options);
    if (writes.length > 0) this.listener({ projection, writes }, result.applied > 0);
    return result;
  }

  get<T extends ProjectionDocument = ProjectionDocument>(
    projection: string,
    collection: string,
    id: string,
  ): Promise<T | undefined> {
    return this.inner.get<T>(projection, collection, id);
  }

  find<T extends ProjectionDocument = ProjectionDocument>(
    projection: string,
    collection: string,
    query?: FindQuery,
  ): Promise<Page<T>> {
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
