import type { CommandMetadata, EventEnvelope } from '@tunnelkey/contracts';

/** What a decider emits: the handler wraps it in an envelope (ids, time, causation) before appending. */
export interface NewEvent<E extends EventEnvelope = EventEnvelope> {
  type: E['type'];
  version: E['version'];
  data: E['data'];
}

/** A command as a decider sees it: its payload plus metadata (ids, time, actor) from outside. */
export interface Command<T extends string = string, D = unknown> {
  type: T;
  data: D;
  metadata: CommandMetadata;
}

/**
 * A pure decider (emmett style): no I/O, no clock, no randomness. `decide` throws
 * CommandRejected to refuse; replaying `evolve` over the log rebuilds the state.
 */
export interface Decider<C extends Command, E extends EventEnvelope, S> {
  initialState: () => S;
  decide: (command: C, state: S) => NewEvent<E>[];
  evolve: (state: S, event: E) => S;
}
