import type { BoundedContext } from '@tunnelkey/contracts';
import type { EventStore, RecordedEvent, Subscription } from './event-store.js';

/** A read model's definition: its own `evolve` over recorded events (the stream sequence included). */
export interface ProjectionDefinition<S> {
  name: string;
  context: BoundedContext;
  /** Only this aggregate type's events. */
  aggregate?: string;
  initialState: () => S;
  evolve: (state: S, recorded: RecordedEvent) => S;
}

/** A projection's state together with the last stream sequence folded into it. */
export interface ProjectionCheckpoint<S> {
  state: S;
  checkpoint: number;
}

/**
 * A projection's state and checkpoint, kept together so that saving one saves the other. `apply`
 * is idempotent by stream sequence: events at or below the checkpoint are skipped, so at-least-once
 * delivery applies every event exactly once.
 */
export class Projection<S> {
  #state: S;
  #checkpoint: number;

  constructor(
    readonly definition: ProjectionDefinition<S>,
    saved?: ProjectionCheckpoint<S>,
  ) {
    this.#state = saved ? saved.state : definition.initialState();
    this.#checkpoint = saved ? saved.checkpoint : 0;
  }

  get state(): S {
    return this.#state;
  }

  get checkpoint(): number {
    return this.#checkpoint;
  }

  /** Folds the event in; false (and no change) when its sequence was already applied. */
  apply(recorded: RecordedEvent): boolean {
    if (recorded.sequence <= this.#checkpoint) return false;
    this.#state = this.definition.evolve(this.#state, recorded);
    this.#checkpoint = recorded.sequence;
    return true;
  }

  toCheckpoint(): ProjectionCheckpoint<S> {
    return { state: this.#state, checkpoint: this.#checkpoint };
  }
}

export interface RunProjectionOptions<S> {
  /** Called after each applied event, before the ack: persist state and checkpoint together here. */
  save?: (checkpoint: ProjectionCheckpoint<S>) => Promise<void> | void;
}

/**
 * Feeds a projection from a durable subscription. A durable that does not exist yet starts right
 * after the projection's checkpoint, so a projection restored from its saved checkpoint resumes
 * without loss or double counting.
 */
export function runProjection<S>(store: EventStore, projection: Projection<S>, durable: string, options: RunProjectionOptions<S> = {}): Promise<Subscription> {
  const { context, aggregate } = projection.definition;
  return store.subscribe({ durable, context, aggregate, fromSequence: projection.checkpoint + 1 }, async (recorded) => {
    if (projection.apply(recorded) && options.save) await options.save(projection.toCheckpoint());
  });
}

/** Builds a projection from scratch (or from a checkpoint) by replaying its context. */
export async function rebuildProjection<S>(store: EventStore, definition: ProjectionDefinition<S>, saved?: ProjectionCheckpoint<S>): Promise<Projection<S>> {
  const projection = new Projection(definition, saved);
  await store.replay(definition.context, (recorded) => void projection.apply(recorded), {
    aggregate: definition.aggregate,
    fromSequence: projection.checkpoint + 1,
  });
  return projection;
}
