import {
  aggregateSubject,
  contextSubject,
  streamName,
  type BoundedContext,
  type EventEnvelope,
} from '@tunnelkey/contracts';
import { pino, type Logger } from 'pino';
import { decodeEvent, encodeEvent, streamContext, validateAppend } from './codec.js';
import { ConcurrencyError, SubscriptionError, describeError } from './errors.js';
import type {
  AppendOptions,
  AppendResult,
  EventHandler,
  EventStore,
  ReadOptions,
  ReadResult,
  RecordedEvent,
  ReplayOptions,
  StreamRef,
  Subscription,
  SubscriptionOptions,
} from './event-store.js';
import {
  InMemoryParkedEventStore,
  parkAndLog,
  parksAfterAttempts,
  poisonEvent,
  type ParkedEventStore,
} from './parking.js';
import { InMemorySnapshotStore, type SnapshotStore } from './snapshots.js';
import { InMemoryViewCheckpointStore, type ViewCheckpointStore } from './view-checkpoints.js';

export interface InMemoryEventStoreOptions {
  namespace?: string;
  /** How long a message id is remembered. Default: 2 minutes, like the JetStream streams. */
  duplicateWindowMs?: number;
  /** Delays before a failed handler sees the event again (last one repeats). */
  retryBackoffMs?: readonly number[];
  /**
   * After this many failed attempts an event is parked and the subscription moves on. Default 25.
   * Only for subscriptions with the `park-after-attempts` delivery policy; `retry-forever` never parks.
   */
  maxHandlerAttempts?: number;
  parked?: ParkedEventStore;
  logger?: Logger;
  now?: () => number;
}

interface StoredMessage {
  sequence: number;
  subject: string;
  /** Stored as bytes, like on the wire: callers never share objects with the store. */
  data: Uint8Array;
}

interface ContextLog {
  messages: StoredMessage[];
  lastBySubject: Map<string, number>;
  dedup: Map<string, { sequence: number; at: number }>;
  waiters: Set<() => void>;
}

/**
 * The event store in memory, with the JetStream store's semantics (global sequence per context,
 * per-subject optimistic concurrency, message-id dedup window, durable positions, parking).
 * For unit tests and the embedded mode. Durable positions live as long as this object.
 */
export class InMemoryEventStore implements EventStore {
  readonly parked: ParkedEventStore;
  readonly #snapshots = new InMemorySnapshotStore();
  readonly #viewCheckpoints = new InMemoryViewCheckpointStore();
  readonly #namespace: string;
  readonly #duplicateWindowMs: number;
  readonly #backoff: readonly number[];
  readonly #maxHandlerAttempts: number;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #logs = new Map<BoundedContext, ContextLog>();
  readonly #durables = new Map<string, { filter: string; acked: number; active: boolean }>();

  constructor(options: InMemoryEventStoreOptions = {}) {
    this.#namespace = options.namespace ?? '';
    this.#duplicateWindowMs = options.duplicateWindowMs ?? 120_000;
    this.#backoff = options.retryBackoffMs?.length ? options.retryBackoffMs : [100, 500, 2_000, 5_000];
    this.#maxHandlerAttempts = options.maxHandlerAttempts ?? 25;
    this.parked = options.parked ?? new InMemoryParkedEventStore();
    this.#logger = options.logger ?? pino({ name: 'eventstore' });
    this.#now = options.now ?? Date.now;
  }

  async append(stream: StreamRef, events: readonly EventEnvelope[], options: AppendOptions): Promise<AppendResult> {
    validateAppend(stream, events);
    const subject = this.#subject(stream);
    const log = this.#log(stream.context);
    const payloads = events.map(encodeEvent);
    const now = this.#now();
    const sequences: number[] = [];
    let duplicates = 0;
    // Same checks, same order as JetStream: dedup first, then the expected subject sequence.
    let expected = options.expectedVersion;
    for (let i = 0; i < payloads.length; i++) {
      const msgId = `${options.messageId}:${i}`;
      const seen = log.dedup.get(msgId);
      if (seen && now - seen.at < this.#duplicateWindowMs) {
        sequences.push(seen.sequence);
        expected = seen.sequence;
        duplicates++;
        continue;
      }
      const last = log.lastBySubject.get(subject) ?? 0;
      if (expected !== 'any' && expected !== last) {
        throw new ConcurrencyError(`stream moved on: expected version ${expected}, found ${last}`, {
          ...streamContext(stream),
          expected,
          actual: last,
        });
      }
      const sequence = log.messages.length + 1;
      log.messages.push({ sequence, subject, data: payloads[i]! });
      log.lastBySubject.set(subject, sequence);
      log.dedup.set(msgId, { sequence, at: now });
      sequences.push(sequence);
      expected = sequence;
    }
    this.#notify(log);
    return {
      version: log.lastBySubject.get(subject) ?? 0,
      sequences,
      duplicate: events.length > 0 && duplicates === events.length,
    };
  }

  async read(stream: StreamRef, options: ReadOptions = {}): Promise<ReadResult> {
    const subject = this.#subject(stream);
    const log = this.#log(stream.context);
    const after = options.after ?? 0;
    const events: RecordedEvent[] = [];
    for (const message of log.messages) {
      if (message.subject !== subject || message.sequence <= after) continue;
      const recorded = await this.#decodeOrPark(stream.context, message, 'read');
      if (recorded) events.push(recorded);
    }
    return { events, version: log.lastBySubject.get(subject) ?? 0 };
  }

  async subscribe(options: SubscriptionOptions, handler: EventHandler): Promise<Subscription> {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(options.durable))
      throw new SubscriptionError('durable names are [A-Za-z0-9_-]{1,64}', { durable: options.durable.slice(0, 64) });
    const parks = parksAfterAttempts(options);
    const filter = this.#filter(options.context, options.aggregate);
    let durable = this.#durables.get(options.durable);
    if (!durable) {
      durable = { filter, acked: Math.max(0, (options.fromSequence ?? 1) - 1), active: false };
      this.#durables.set(options.durable, durable);
    }
    if (durable.filter !== filter)
      throw new SubscriptionError('durable exists with another filter', { durable: options.durable });
    if (durable.active) throw new SubscriptionError('durable is already running', { durable: options.durable });
    durable.active = true;
    const state = durable;
    const log = this.#log(options.context);
    let running = true;
    let wake: (() => void) | undefined;
    const progress = new Set<() => void>();
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = ms > 0 ? setTimeout(done, ms) : undefined;
        function done() {
          if (timer) clearTimeout(timer);
          log.waiters.delete(done);
          wake = undefined;
          resolve();
        }
        wake = done;
        if (ms <= 0) log.waiters.add(done);
      });
    const next = () => log.messages.find((m) => m.sequence > state.acked && matches(m.subject, filter));
    const loop = (async () => {
      let attempts = 0;
      while (running) {
        const message = next();
        if (!message) {
          await sleep(0);
          continue;
        }
        const recorded = await this.#decodeOrPark(options.context, message, options.durable);
        try {
          if (recorded) await handler(recorded);
          state.acked = message.sequence;
          attempts = 0;
          for (const notify of progress) notify();
        } catch (error) {
          attempts++;
          if (recorded && parks && attempts >= this.#maxHandlerAttempts) {
            const stream = streamName(options.context, this.#namespace);
            await parkAndLog(
              this.parked,
              this.#logger,
              poisonEvent(
                stream,
                message.subject,
                message.sequence,
                message.data,
                recorded,
                attempts,
                error,
                options.durable,
                this.#now(),
              ),
            );
            state.acked = message.sequence;
            attempts = 0;
            for (const notify of progress) notify();
            continue;
          }
          this.#logger.warn(
            {
              event: 'eventstore.handler_failed',
              durable: options.durable,
              subject: message.subject,
              sequence: message.sequence,
              attempt: attempts,
              error: describeError(error),
            },
            'handler failed; event will be redelivered',
          );
          await sleep(this.#backoff[Math.min(attempts - 1, this.#backoff.length - 1)]!);
        }
      }
    })();
    return {
      stop: async () => {
        running = false;
        wake?.();
        await loop;
        state.active = false;
        for (const notify of progress) notify();
      },
      caughtUp: async () => {
        const target = log.messages.length;
        const done = () =>
          !log.messages.some((m) => m.sequence > state.acked && m.sequence <= target && matches(m.subject, filter));
        while (!done()) {
          if (!running)
            throw new SubscriptionError('subscription stopped before catching up', { durable: options.durable });
          await new Promise<void>((resolve) => {
            const notify = () => {
              progress.delete(notify);
              resolve();
            };
            progress.add(notify);
          });
        }
      },
    };
  }

  #followers = 0;

  async snapshotStore(): Promise<SnapshotStore> {
    return this.#snapshots;
  }

  async viewCheckpointStore(): Promise<ViewCheckpointStore> {
    return this.#viewCheckpoints;
  }

  /** Streams exist in memory as soon as they are written to. */
  async ensureStreams(_contexts: readonly BoundedContext[]): Promise<void> {}

  /** Nothing runs on its own: subscriptions stop with their owners. */
  async close(): Promise<void> {}

  /** In memory a follower is a subscription under a private durable, forgotten when it stops. */
  async follow(
    context: BoundedContext,
    handler: (recorded: RecordedEvent) => void,
    options: ReplayOptions = {},
  ): Promise<Subscription> {
    const durable = `follower-${++this.#followers}`;
    const subscription = await this.subscribe(
      {
        durable,
        context,
        ...(options.aggregate ? { aggregate: options.aggregate } : {}),
        ...(options.fromSequence ? { fromSequence: options.fromSequence } : {}),
      },
      (recorded) => handler(recorded),
    );
    return {
      caughtUp: () => subscription.caughtUp(),
      stop: async () => {
        await subscription.stop();
        this.#durables.delete(durable);
      },
    };
  }

  async replay(context: BoundedContext, handler: EventHandler, options: ReplayOptions = {}): Promise<number> {
    const filter = this.#filter(context, options.aggregate);
    const from = options.fromSequence ?? 1;
    const log = this.#log(context);
    const upTo = log.messages.length;
    let last = from - 1;
    for (const message of log.messages.slice(Math.max(0, from - 1), upTo)) {
      if (!matches(message.subject, filter)) continue;
      const recorded = await this.#decodeOrPark(context, message, 'replay');
      if (recorded) await handler(recorded);
      last = message.sequence;
    }
    return last;
  }

  /** Test hook: writes bytes to a stream without any check, as a foreign writer could. */
  injectUnchecked(stream: StreamRef, payload: Uint8Array | string): number {
    const log = this.#log(stream.context);
    const subject = this.#subject(stream);
    const sequence = log.messages.length + 1;
    log.messages.push({
      sequence,
      subject,
      data: typeof payload === 'string' ? new TextEncoder().encode(payload) : payload.slice(),
    });
    log.lastBySubject.set(subject, sequence);
    this.#notify(log);
    return sequence;
  }

  async #decodeOrPark(
    context: BoundedContext,
    message: StoredMessage,
    foundBy: string,
  ): Promise<RecordedEvent | undefined> {
    const decoded = decodeEvent(message.data);
    if (decoded.ok) return { event: decoded.event, sequence: message.sequence, subject: message.subject };
    await parkAndLog(this.parked, this.#logger, {
      stream: streamName(context, this.#namespace),
      subject: message.subject,
      sequence: message.sequence,
      type: decoded.type,
      version: decoded.version,
      reason: decoded.reason,
      foundBy,
      parkedAt: new Date(this.#now()).toISOString(),
      payload: message.data,
    });
    return undefined;
  }

  #subject(stream: StreamRef): string {
    return aggregateSubject(stream.context, stream.aggregate, stream.id, this.#namespace);
  }

  #filter(context: BoundedContext, aggregate?: string): string {
    return aggregate
      ? `${contextSubject(context, this.#namespace)}.${aggregate}.`
      : `${contextSubject(context, this.#namespace)}.`;
  }

  #log(context: BoundedContext): ContextLog {
    let log = this.#logs.get(context);
    if (!log) {
      log = { messages: [], lastBySubject: new Map(), dedup: new Map(), waiters: new Set() };
      this.#logs.set(context, log);
    }
    return log;
  }

  #notify(log: ContextLog): void {
    for (const waiter of [...log.waiters]) waiter();
  }
}

/** Filters are subject prefixes ending in a dot: `<ctx>.` or `<ctx>.<aggregate>.`. */
function matches(subject: string, filter: string): boolean {
  return subject.startsWith(filter);
}
