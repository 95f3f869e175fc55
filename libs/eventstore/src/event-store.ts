import type { BoundedContext, EventEnvelope } from '@tunnelkey/contracts';

/** One aggregate instance's stream: `<context>.<aggregate>.<id>`. */
export interface StreamRef {
  context: BoundedContext;
  aggregate: string;
  id: string;
}

/**
 * A stream's version is the global sequence of its last event (JetStream's "last subject
 * sequence"), 0 when it has none. It is an opaque position: compare for equality only.
 */
export type ExpectedVersion = number | 'any';
export const noStream = 0;

export interface AppendOptions {
  /** Optimistic concurrency: the version the decision was made on (`noStream` for a new stream). */
  expectedVersion: ExpectedVersion;
  /** Dedup key, derived from the command id: a retried append with the same id writes nothing. */
  messageId: string;
}

export interface AppendResult {
  /** The stream's version after the append. */
  version: number;
  /** Global sequences of the appended events, in order. */
  sequences: number[];
  /** True when the store had already seen this messageId and wrote nothing. */
  duplicate: boolean;
}

export interface RecordedEvent<E extends EventEnvelope = EventEnvelope> {
  event: E;
  /** Global position in the context's stream. */
  sequence: number;
  subject: string;
}

export interface ReadResult<E extends EventEnvelope = EventEnvelope> {
  events: RecordedEvent<E>[];
  /** Version to pass as expectedVersion for the next append. */
  version: number;
}

export interface SubscriptionOptions {
  /** Durable name: the subscription resumes where this name stopped. */
  durable: string;
  context: BoundedContext;
  /** Only this aggregate type's events (one filter subject on NATS 2.9). */
  aggregate?: string;
}

export type EventHandler = (recorded: RecordedEvent) => Promise<void> | void;

export interface Subscription {
  /** Stops delivery; what was handled stays acked, the rest is redelivered to the next run. */
  stop(): Promise<void>;
  /** Resolves when everything in the stream at the time of the call was handled. */
  caughtUp(): Promise<void>;
}

export interface EventStore {
  append(stream: StreamRef, events: readonly EventEnvelope[], options: AppendOptions): Promise<AppendResult>;
  read(stream: StreamRef): Promise<ReadResult>;
  /** Durable, at-least-once, in order; ack after the handler resolves. */
  subscribe(options: SubscriptionOptions, handler: EventHandler): Promise<Subscription>;
  /** Every event of a context (optionally one aggregate type) from the start, in order; for rebuilding projections. */
  replay(context: BoundedContext, handler: EventHandler, options?: { aggregate?: string; fromSequence?: number }): Promise<number>;
}
