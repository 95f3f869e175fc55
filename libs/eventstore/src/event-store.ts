import type { BoundedContext, EventEnvelope } from '@tunnelkey/contracts';
import type { SnapshotStore } from './snapshots.js';
import type { StreamRef } from './stream-ref.js';
import type { ViewCheckpointStore } from './view-checkpoints.js';

export type { StreamRef } from './stream-ref.js';

/**
 * A stream's version is the global sequence of its last event (JetStream's "last subject
 * sequence"), 0 when it has none. It is an opaque position: compare for equality only.
 */
export type ExpectedVersion = number | 'any';
export const noStream = 0;

export interface AppendOptions {
  /** Optimistic concurrency: the version the decision was made on (`noStream` for a new stream). */
  expectedVersion: ExpectedVersion;
  /**
   * Dedup key, derived from the command id: a retried append with the same id writes nothing.
   * Event i of the append is stored with message id `${messageId}:${i}`.
   */
  messageId: string;
}

export interface AppendResult {
  /** The stream's version after the append. */
  version: number;
  /** Global sequences of the appended events, in order. */
  sequences: number[];
  /** True when the store had already seen every message id of this append and wrote nothing. */
  duplicate: boolean;
}

export interface RecordedEvent<E extends EventEnvelope = EventEnvelope> {
  event: E;
  /** Global position in the context's stream. */
  sequence: number;
  subject: string;
}

export interface ReadOptions {
  /** Only events after this version (e.g. a snapshot's version). */
  after?: number;
}

export interface ReadResult<E extends EventEnvelope = EventEnvelope> {
  events: RecordedEvent<E>[];
  /** Version to pass as expectedVersion for the next append. */
  version: number;
}

/**
 * What a durable subscription does with an event whose handler keeps failing:
 * - `park-after-attempts`: after the store's `maxHandlerAttempts` (default 25) the event is parked
 *   (set aside in the parked store, logged) and acked, and the subscription moves on;
 * - `retry-forever`: never parked; redelivered with the store's capped backoff (its last delay
 *   repeats) until the handler succeeds, the events after it waiting. For work that must never be
 *   skipped (the revocation path): a handler stuck there is an alert, not an outcome.
 * An event that fails its contract is parked under either policy: no retry can make it valid.
 */
export type DeliveryPolicy = 'park-after-attempts' | 'retry-forever';
export const deliveryPolicies: readonly DeliveryPolicy[] = ['park-after-attempts', 'retry-forever'];

export interface SubscriptionOptions {
  /** Durable name ([A-Za-z0-9_-]): the subscription resumes where this name stopped. */
  durable: string;
  context: BoundedContext;
  /** Only this aggregate type's events (one filter subject on NATS 2.9). */
  aggregate?: string;
  /** Where a durable that does not exist yet starts (e.g. a projection's checkpoint + 1). Default: 1. */
  fromSequence?: number;
  /** What happens to an event whose handler keeps failing. Default: `park-after-attempts`. */
  delivery?: DeliveryPolicy;
  /**
   * Events handled at once, at most (default 1: strictly in stream order, a failing event holding
   * back the ones after it). Above 1, events of one subject (aggregate instance) are still handled
   * one after the other, those of different subjects side by side, and a failing event is
   * redelivered after its backoff while later ones go on: for reactions whose events are independent
   * per aggregate, where waiting for each event's round trips before the next is the cost. An
   * adapter may handle fewer at once (the in-memory store handles one).
   */
  concurrency?: number;
}

export type EventHandler = (recorded: RecordedEvent) => Promise<void> | void;

export interface Subscription {
  /** Stops delivery; what was handled stays acked, the rest is redelivered to the next run. */
  stop(): Promise<void>;
  /** Resolves when everything in the stream at the time of the call was handled (or parked). */
  caughtUp(): Promise<void>;
}

export interface ReplayOptions {
  aggregate?: string;
  /** First stream sequence to deliver. Default: 1. */
  fromSequence?: number;
}

export interface EventStore {
  /**
   * Makes sure the given contexts' streams exist with this store's configuration (created or
   * updated; idempotent). A service calls it at start for every context it writes or reads.
   */
  ensureStreams(contexts: readonly BoundedContext[]): Promise<void>;
  /**
   * Validates every event against its contract (ValidationError, nothing written), then appends
   * them in order. Several events are chained, each expecting the previous one's sequence: the
   * append is NOT atomic (NATS 2.9 has no batch publish). A failure midway leaves a prefix written;
   * retrying with the same messageId completes it without duplicating the prefix.
   */
  append(stream: StreamRef, events: readonly EventEnvelope[], options: AppendOptions): Promise<AppendResult>;
  /** The stream's events in order, and its version. */
  read(stream: StreamRef, options?: ReadOptions): Promise<ReadResult>;
  /** Durable, at-least-once, in order; ack after the handler resolves. Invalid events are parked, not handed over. */
  subscribe(options: SubscriptionOptions, handler: EventHandler): Promise<Subscription>;
  /**
   * Every event of a context (optionally one aggregate type) present at the time of the call, in
   * order; for rebuilding projections. Returns the sequence of the last event delivered (or
   * `fromSequence - 1` when there was none).
   */
  replay(context: BoundedContext, handler: EventHandler, options?: ReplayOptions): Promise<number>;
  /**
   * Follows a context live from `fromSequence`, in order, with no durable position: for in-process
   * views rebuilt at every start (replay, then follow from the checkpoint + 1). Much faster than a
   * durable subscription (no ack per event); the handler must be synchronous and must not fail.
   * Invalid events are skipped (durable consumers park them).
   */
  follow(
    context: BoundedContext,
    handler: (recorded: RecordedEvent) => void,
    options?: ReplayOptions,
  ): Promise<Subscription>;
  /** Where this store's aggregates keep their snapshots (same server and namespace): the `store` of a SnapshotPolicy. */
  snapshotStore(): Promise<SnapshotStore>;
  /** Where in-memory views keep their checkpoints (same server and namespace): LiveViews with a `checkpoint` policy. */
  viewCheckpointStore(): Promise<ViewCheckpointStore>;
  /**
   * Stops what the store runs on its own (publish pipeline, timers) once every user of it has
   * stopped. The connection it was given stays its owner's.
   */
  close(): Promise<void>;
}
