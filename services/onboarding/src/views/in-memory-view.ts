/** What the views share: a LiveView (rebuilt at start, followed, caught up on demand) stopped with the module. */
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

  onModuleDestroy(): Promise<void> {
    return this.live.stop();
  }
}
