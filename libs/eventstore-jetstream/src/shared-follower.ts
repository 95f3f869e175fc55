/**
 * One live tail per (stream, filter) in a store, shared by every follower of it in the process.
 *
 * Why: a service keeps several live views on the same context (the CA three on its own stream,
 * the registry two on its batches), and each had its own ordered consumer. Every event then
 * crossed the server, the socket and the decoder once per view. Measured in
 * `npm run bench:provision -- --count-messages`: 19.2 NATS messages per certified device, four of
 * them deliveries of one CA event to the CA's own views. A shared tail delivers each event once to
 * the process, decodes it once and hands the same (frozen) event to every follower.
 *
 * A follower that joins behind the tail (its first wanted sequence already delivered) first reads
 * the gap with a bounded replay, while the tail's new deliveries wait in a buffer for it; then it
 * takes the buffer and follows the tail. Each follower still sees every event of its filter from
 * its own start, in order, once.
 *
 * A tail resumes on its own when its consumer stops delivering: an ordered consumer is ephemeral,
 * one replica on one server, and when that server is lost (a cluster node killed) the consumer is
 * offline, not gone, so nats.js neither gets "consumer not found" nor re-creates it, and the tail
 * would wait forever. The tail checks, while it delivers nothing, whether the stream holds an event
 * of its filter past the last one it delivered; found at two checks in a row, it opens a new
 * consumer from there (followers drop what they have already seen).
 */
import type { RecordedEvent, Subscription } from '@tunnelkey/eventstore';
import { SubscriptionError, describeError } from '@tunnelkey/eventstore';
import type { Logger } from 'pino';

/** What a tail needs from the store: its consumer, the stream's head, and a bounded replay. */
export interface TailSource {
  stream: string;
  /** Starts an ordered consumer from `from`; delivers decoded events (invalid ones are skipped by the source). */
  open(from: number, deliver: (recorded: RecordedEvent, deliverySequence: number) => void): Promise<TailConsumer>;
  /** The stream's last sequence now. */
  head(): Promise<number>;
  /** Delivers the filter's events in [from, upTo] in order. */
  replay(from: number, upTo: number, handler: (recorded: RecordedEvent) => void): Promise<void>;
  /** The sequence of the filter's first event after `sequence` in the stream (read without a consumer), if any. */
  nextAfter(sequence: number): Promise<number | undefined>;
  logger: Logger;
}

/** How often an idle tail checks that its consumer still delivers. */
export const tailLivenessCheckMs = 5_000;

export interface TailConsumer {
  /** The consumer's pending count and delivered consumer sequence, or undefined while unknown. */
  info(): Promise<{ pending: number; delivered: number } | undefined>;
  /** Resolves when the delivery loop ends (stopped or failed). */
  done: Promise<void>;
  stop(): Promise<void>;
}

/** Freezes what a follower receives: the same object goes to every follower of the tail. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

class Follower {
  /** The first sequence this follower has not seen yet. */
  next: number;
  /** Deliveries of the tail held back while the follower reads its gap. */
  buffer: RecordedEvent[] | undefined;
  stopped = false;

  constructor(
    private readonly handler: (recorded: RecordedEvent) => void,
    from: number,
    private readonly logger: Logger,
    private readonly stream: string,
  ) {
    this.next = from;
  }

  receive(recorded: RecordedEvent): void {
    if (this.stopped || recorded.sequence < this.next) return;
    if (this.buffer) {
      this.buffer.push(recorded);
      return;
    }
    this.next = recorded.sequence + 1;
    try {
      this.handler(recorded);
    } catch (error) {
      // One follower's failure is its own: the others, and the tail, carry on.
      this.logger.error(
        {
          event: 'eventstore.follow_handler_failed',
          stream: this.stream,
          sequence: recorded.sequence,
          error: describeError(error),
        },
        'a follower failed to take an event',
      );
    }
  }

  /** Takes what the tail delivered while the gap was read, then follows the tail directly. */
  release(): void {
    const held = this.buffer ?? [];
    this.buffer = undefined;
    for (const recorded of held) this.receive(recorded);
  }
}

export class SharedTail {
  readonly #followers = new Set<Follower>();
  /** The last sequence the tail delivered (its start - 1 before the first). */
  #lastSeen: number;
  #lastDelivery = 0;
  #consumer: TailConsumer | undefined;
  /** Which consumer delivers: one replaced by a resume may still hand over what it had buffered. */
  #generation = 0;
  #closed = false;
  /** Liveness: deliveries since the last check, the undelivered event the last check found. */
  #deliveredSinceCheck = false;
  #suspect: number | undefined;
  #checking = false;
  readonly #watch: NodeJS.Timeout;

  private constructor(
    private readonly source: TailSource,
    from: number,
    private readonly onIdle: () => void,
    checkEveryMs: number,
  ) {
    this.#lastSeen = from - 1;
    this.#watch = setInterval(() => void this.checkLiveness(), checkEveryMs);
    this.#watch.unref();
  }

  /** Starts a tail at `from` (its first follower's start). */
  static async open(
    source: TailSource,
    from: number,
    onIdle: () => void,
    options: { checkEveryMs?: number } = {},
  ): Promise<SharedTail> {
    const tail = new SharedTail(source, from, onIdle, options.checkEveryMs ?? tailLivenessCheckMs);
    try {
      tail.#consumer = await tail.#openConsumer(from);
    } catch (error) {
      clearInterval(tail.#watch);
      throw error;
    }
    return tail;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * One liveness check (every `checkEveryMs`; callable directly): when the tail delivered nothing
   * since the last check and the stream holds an event of its filter past the last delivered one,
   * found by this check and the one before, the consumer is taken for lost and replaced by one
   * starting after the last delivered event. True when it was replaced.
   */
  async checkLiveness(): Promise<boolean> {
    if (this.#checking || this.#closed) return false;
    this.#checking = true;
    try {
      if (this.#deliveredSinceCheck) {
        this.#deliveredSinceCheck = false;
        this.#suspect = undefined;
        return false;
      }
      const next = await this.source.nextAfter(this.#lastSeen).catch(() => undefined);
      if (next === undefined || next !== this.#suspect) {
        this.#suspect = next;
        return false;
      }
      return await this.#resume();
    } finally {
      this.#checking = false;
    }
  }

  async #resume(): Promise<boolean> {
    const from = this.#lastSeen + 1;
    let consumer: TailConsumer;
    try {
      consumer = await this.#openConsumer(from);
    } catch (error) {
      // The cluster may still be electing: the next check tries again.
      this.source.logger.warn(
        {
          event: 'eventstore.follow_resume_failed',
          stream: this.source.stream,
          from,
          error: describeError(error),
          cause: describeError((error as Error).cause),
        },
        'a stalled follower could not open a new consumer yet',
      );
      return false;
    }
    const stalled = this.#consumer;
    this.#consumer = consumer;
    this.#lastDelivery = 0;
    this.#suspect = undefined;
    this.source.logger.warn(
      { event: 'eventstore.follow_resumed', stream: this.source.stream, from },
      'a follower whose consumer stopped delivering resumed on a new one',
    );
    // Its server may be gone: stopping it may take the API's timeout, nobody waits for that.
    void stalled?.stop().catch(() => undefined);
    if (this.#closed) await consumer.stop();
    return true;
  }

  #openConsumer(from: number): Promise<TailConsumer> {
    const generation = ++this.#generation;
    return this.source.open(from, (recorded, deliverySequence) => {
      if (generation === this.#generation) this.#deliver(recorded, deliverySequence);
    });
  }

  #deliver(recorded: RecordedEvent, deliverySequence: number): void {
    this.#deliveredSinceCheck = true;
    this.#lastDelivery = deliverySequence;
    if (recorded.sequence <= this.#lastSeen) return; // a resumed consumer may start on one already seen
    this.#lastSeen = recorded.sequence;
    deepFreeze(recorded);
    for (const follower of this.#followers) follower.receive(recorded);
  }

  /** Adds a follower that sees every event from `from` on, in order, once. */
  async attach(handler: (recorded: RecordedEvent) => void, from: number): Promise<Subscription> {
    const follower = new Follower(handler, from, this.source.logger, this.source.stream);
    const gapEnd = this.#lastSeen;
    if (from <= gapEnd) follower.buffer = [];
    this.#followers.add(follower);
    if (follower.buffer) {
      try {
        await this.source.replay(from, gapEnd, (recorded) => {
          if (recorded.sequence < follower.next || follower.stopped) return;
          follower.next = recorded.sequence + 1;
          handler(deepFreeze(recorded));
        });
      } catch (error) {
        await this.#detach(follower);
        throw error;
      }
      follower.release();
    }
    return { stop: () => this.#detach(follower), caughtUp: () => this.#caughtUp(follower) };
  }

  async #caughtUp(follower: Follower): Promise<void> {
    const target = await this.source.head();
    for (;;) {
      if (follower.stopped || this.#closed)
        throw new SubscriptionError('follower stopped before catching up', { stream: this.source.stream });
      if (!follower.buffer) {
        if (follower.next - 1 >= target || this.#lastSeen >= target) return;
        // With an aggregate filter the stream's last event may not be ours: caught up when the
        // server has nothing left for the tail and the tail handled everything it delivered.
        const info = await this.#consumer?.info();
        if (info && info.pending === 0 && this.#lastDelivery >= info.delivered && !follower.buffer) return;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async #detach(follower: Follower): Promise<void> {
    follower.stopped = true;
    this.#followers.delete(follower);
    if (this.#followers.size > 0 || this.#closed) return;
    this.#closed = true;
    clearInterval(this.#watch);
    this.onIdle();
    await this.#consumer?.stop();
  }
}
