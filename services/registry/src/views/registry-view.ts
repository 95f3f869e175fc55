import type { OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { LiveView, StoreUnavailableError, type EventStore, type LiveViewDefinition } from '@tunnelkey/eventstore';
import type { ReadinessRegistry } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import type { RegistryStreams } from '../shared/registry-streams.js';

const catchUpLimitMs = 10_000;

/**
 * What the registry's views share: a LiveView started at module init (rebuilt from the log, then
 * followed), registered as a readiness check under the view's name, stopped at shutdown.
 */
export abstract class RegistryView<S> implements OnModuleInit, OnModuleDestroy {
  #view: LiveView<S> | undefined;
  #starting: Promise<void> | undefined;

  protected constructor(
    private readonly definition: LiveViewDefinition<S>,
    private readonly store: EventStore,
    private readonly streams: RegistryStreams,
    readiness: ReadinessRegistry,
    protected readonly logger: Logger,
  ) {
    readiness.add({ name: definition.name, ready: () => this.ready });
  }

  /** Idempotent: the first call rebuilds, later calls wait for it. */
  onModuleInit(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async onModuleDestroy(): Promise<void> {
    await this.#starting?.catch(() => undefined);
    await this.#view?.stop();
  }

  get ready(): boolean {
    return this.#view?.ready ?? false;
  }

  /** The last sequence folded in from the view's (first) source. */
  get checkpoint(): number {
    return this.#view?.checkpoint(this.definition.sources[0]!) ?? 0;
  }

  /**
   * Resolves once the view holds every event written before the call (a handler reading its own
   * writes). Bounded: a stuck follower must not hang a command; the view is then only stale.
   */
  async catchUp(): Promise<void> {
    if (!this.#view) return;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>(
      (resolve) => (timer = setTimeout(() => resolve('timeout'), catchUpLimitMs)),
    );
    const outcome = await Promise.race([this.#view.catchUp(), timedOut]).finally(() => clearTimeout(timer));
    if (outcome === 'timeout') {
      this.logger.warn(
        { event: 'registry.view_lagging', view: this.definition.name, checkpoint: this.checkpoint },
        'view did not catch up in time',
      );
    }
  }

  protected get state(): S {
    // A command that arrives while the service starts: UNAVAILABLE, the client sends it again.
    if (!this.#view)
      throw new StoreUnavailableError(`view ${this.definition.name} queried before it was built`, {
        view: this.definition.name,
      });
    return this.#view.state;
  }

  async #start(): Promise<void> {
    await this.streams.ensured();
    const started = Date.now();
    this.#view = await LiveView.start(this.store, this.definition, { logger: this.logger });
    this.logger.info(
      {
        event: 'registry.view_rebuilt',
        view: this.definition.name,
        checkpoint: this.checkpoint,
        ms: Date.now() - started,
      },
      'view rebuilt from the log',
    );
  }
}
