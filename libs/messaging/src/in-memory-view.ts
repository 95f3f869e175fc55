/**
 * What a service's in-memory read models share: a LiveView (rebuilt at start, followed, caught up on
 * demand), ready for /ready, stopped with the module. Subclasses add the queries; `viewProvider` starts them.
 */
import type { OnModuleDestroy } from '@nestjs/common';
import type { LiveView } from '@tunnelkey/eventstore';

export abstract class InMemoryView<S> implements OnModuleDestroy {
  constructor(protected readonly live: LiveView<S>) {}

  /** The state itself (tests and diagnostics read it; handlers use the view's queries). */
  get state(): S {
    return this.live.state;
  }

  get ready(): boolean {
    return this.live.ready;
  }

  get name(): string {
    return this.live.definition.name;
  }

  /** Resolves once every event in the view's sources at the time of the call is folded in. */
  catchUp(): Promise<void> {
    return this.live.catchUp();
  }

  stop(): Promise<void> {
    return this.live.stop();
  }

  onModuleDestroy(): Promise<void> {
    return this.stop();
  }
}
