import {
  AckPolicy,
  DeliverPolicy,
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type MsgRequest,
  type StoredMsg,
  type StreamConfig,
} from '@nats-io/jetstream';
import { headers, nanos, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import {
  boundedContexts,
  aggregateSubject,
  contextSubject,
  streamName,
  type BoundedContext,
  type EventEnvelope,
} from '@tunnelkey/contracts';
import { pino, type Logger } from 'pino';
import {
  decodeEvent,
  encodeEvent,
  eventHeaders,
  streamContext,
  validateAppend,
  type Decoded,
} from '@tunnelkey/eventstore/internal';
import {
  ConcurrencyError,
  StoreUnavailableError,
  SubscriptionError,
  describeError,
  type ErrorContext,
} from '@tunnelkey/eventstore';
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
  ParkedEventStore,
  SnapshotStore,
  ViewCheckpointStore,
  Subscription,
  SubscriptionOptions,
} from '@tunnelkey/eventstore';
import { parkAndLog, parksAfterAttempts, poisonEvent } from '@tunnelkey/eventstore/internal';
import { KeyedQueue } from '@tunnelkey/concurrency';
import { JetStreamParkedEventStore } from './jetstream-parked-store.js';
import { jetStreamForSetup, jetStreamManagerForSetup } from './jetstream-setup.js';
import { isTransientPublishFailure, PublishPipeline, type PubAck } from './publish-pipeline.js';
import { KvSnapshotStore } from './kv-snapshot-store.js';
import { KvViewCheckpointStore } from './kv-view-checkpoint-store.js';
import { isNotFound, sameStreamConfig } from './stream-config.js';
import { SharedTail, type TailSource } from './shared-follower.js';

export interface JetStreamEventStoreOptions {
  /** Isolates streams (`<NS>_REGISTRY`) and subjects (`<ns>.registry.>`), e.g. per test file. */
  namespace?: string;
  /** JetStream dedup window for message ids. Default 2 minutes. */
  duplicateWindowMs?: number;
  /**
   * Replicas of the streams and KV buckets this store creates (or updates a stream to): 3 on a
   * 3-node JetStream cluster, so losing a node loses no event. Default 1.
   */
  replicas?: number;
  /** How long an append waits for JetStream's acknowledgement. Default 5 s. */
  publishTimeoutMs?: number;
  /**
   * How long an append keeps sending an event again after a transient failure (no responders while
   * a cluster elects the stream's leader, no acknowledgement in time, JetStream temporarily
   * unavailable), with backoff; the same message id makes a copy already stored a duplicate.
   * Default 30 s; at most half the duplicate window. 0: no retry.
   */
  appendRetryMs?: number;
  /** Delays before a failed handler sees the event again (nak with delay; the last one repeats: the cap). */
  retryBackoffMs?: readonly number[];
  /**
   * Redelivery of an event whose handler neither acked nor failed (a crashed process, an ack lost
   * with the bus). Default 10 s; a handler still running tells JetStream so every third of it.
   */
  ackWaitMs?: number;
  /**
   * After this many failed attempts an event is parked and the subscription moves on. Default 25.
   * Only for subscriptions with the `park-after-attempts` delivery policy; `retry-forever` never parks.
   */
  maxHandlerAttempts?: number;
  /** Where invalid events found on a stream go. Default: a `<NS>_PARKED` stream. */
  parked?: ParkedEventStore;
  logger?: Logger;
}

/**
 * How long a subscription's or a follower's pull request lasts (nats.js default 30 s). Its idle
 * heartbeat is half of it; two missed heartbeats are how nats.js notices a stalled consumer, and after
 * a reconnect it checks the consumer again at this interval while JetStream does not answer: 5 s
 * here instead of 30 s, for a pull request every 5 s per idle consumer.
 */
const pullExpiresMs = 5_000;

/**
 * nats.js 3.4 defect, worked around: when the server restarts it loses an ordered consumer, and
 * nats.js re-creates it on reconnect, but without clearing its count of messages still owed by the
 * old pull request; the new pull asks only for what that count leaves (often one message), and the
 * follower then stalls until two heartbeats are missed (30 s with the default expiry). Measured in the
 * fault suite (a NATS kill): the services' views caught up 30-60 s after the bus was back. Clearing
 * the count at once, as nats.js itself does after missed heartbeats, resumes it within the second.
 */
async function resumeWhenRecreated(messages: ConsumerMessages): Promise<void> {
  const internals = messages as unknown as { resetPending?: () => Promise<boolean> };
  for await (const status of messages.status())
    if (status.type === 'ordered_consumer_recreated') await internals.resetPending?.().catch(() => false);
}

/** Waits between attempts of an event's publish after a transient failure (the last one repeats). */
const appendRetryBackoffMs = [100, 250, 500, 1_000, 2_000];

/** Past this many events a read switches from direct gets (one round trip each) to an ordered consumer. */
const directReadLimit = 24;
const durablePattern = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The event store on NATS JetStream (2.9+): one stream per bounded context, one subject per
 * aggregate. Appends are publishes with `Nats-Msg-Id` (dedup) and an expected last subject
 * sequence (optimistic concurrency); reads are direct gets by subject; subscriptions are durable
 * pull consumers with one message in flight; replays are ordered consumers.
 */
export class JetStreamEventStore implements EventStore {
  readonly parked: ParkedEventStore;
  readonly namespace: string;
  readonly #js: JetStreamClient;
  readonly #logger: Logger;
  readonly #duplicateWindowMs: number;
  readonly #replicas: number;
  readonly #backoff: readonly number[];
  readonly #ackWaitMs: number;
  readonly #maxHandlerAttempts: number;
  readonly #pipeline: PublishPipeline;
  readonly #appendRetryMs: number;
  readonly #subjects = new Map<string, string>();
  #jsm: Promise<JetStreamManager> | undefined;
  #snapshots: Promise<SnapshotStore> | undefined;
  #viewCheckpoints: Promise<ViewCheckpointStore> | undefined;
  /** Live tails by stream and filter, shared by this store's followers. */
  readonly #tails = new Map<string, Promise<SharedTail>>();

  constructor(
    private readonly nc: NatsConnection,
    options: JetStreamEventStoreOptions = {},
  ) {
    this.namespace = options.namespace ?? '';
    this.#duplicateWindowMs = options.duplicateWindowMs ?? 120_000;
    this.#backoff = options.retryBackoffMs?.length ? options.retryBackoffMs : [100, 500, 2_000, 5_000];
    this.#maxHandlerAttempts = options.maxHandlerAttempts ?? 25;
    this.#ackWaitMs = options.ackWaitMs ?? 10_000;
    this.#logger = options.logger ?? pino({ name: 'eventstore' });
    this.#replicas = options.replicas ?? 1;
    this.parked =
      options.parked ?? new JetStreamParkedEventStore(nc, this.namespace, this.#duplicateWindowMs, this.#replicas);
    // Admin and consumer API calls: generous timeouts, a busy server answers stream creation slowly.
    this.#js = jetStreamForSetup(nc);
    this.#pipeline = new PublishPipeline(nc, options.publishTimeoutMs ?? 5_000);
    this.#appendRetryMs = Math.min(options.appendRetryMs ?? 30_000, this.#duplicateWindowMs / 2);
  }

  /** JetStream stream name of a context under this store's namespace. */
  streamName(context: BoundedContext): string {
    return streamName(context, this.namespace);
  }

  /** Creates the context streams (and the parked stream), or updates them to this configuration. */
  async ensureStreams(contexts: readonly BoundedContext[] = boundedContexts): Promise<void> {
    const jsm = await this.#manager();
    for (const context of contexts) {
      const config: Partial<StreamConfig> & { name: string } = {
        name: this.streamName(context),
        subjects: [`${contextSubject(context, this.namespace)}.>`],
        storage: 'file' as StreamConfig['storage'],
        duplicate_window: nanos(this.#duplicateWindowMs),
        allow_direct: true,
        // An event log: nobody deletes single events.
        deny_delete: true,
        num_replicas: this.#replicas,
      };
      const existing = await jsm.streams.info(config.name).then(
        (info) => info.config,
        (error: unknown) => (isNotFound(error) ? undefined : Promise.reject(error)),
      );
      // Only when it differs: on a secured bus only the owner may update a stream (deploy/nats),
      // and every reader runs this at start.
      if (!existing) await jsm.streams.add(config);
      else if (!sameStreamConfig(existing, config)) await jsm.streams.update(config.name, config);
    }
    if (this.parked instanceof JetStreamParkedEventStore) await this.parked.ensureStream(jsm);
  }

  async append(stream: StreamRef, events: readonly EventEnvelope[], options: AppendOptions): Promise<AppendResult> {
    validateAppend(stream, events);
    const subject = this.#subject(stream);
    const sequences: number[] = [];
    let expected = options.expectedVersion;
    let duplicates = 0;
    // Chained, not atomic: each event expects the previous one's sequence. If one fails, the ones
    // before it stay; a retry with the same messageId dedups them and carries on from there.
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      const hdrs = headers();
      hdrs.set('Nats-Msg-Id', `${options.messageId}:${i}`);
      if (expected !== 'any') hdrs.set('Nats-Expected-Last-Subject-Sequence', String(expected));
      hdrs.set(eventHeaders.type, event.type);
      hdrs.set(eventHeaders.version, String(event.version));
      const context = { ...streamContext(stream), expected: expected === 'any' ? 'any' : expected, index: i };
      const ack = await this.#publish(stream, subject, encodeEvent(event), hdrs, context);
      if (ack.duplicate) duplicates++;
      sequences.push(ack.seq);
      expected = ack.seq;
    }
    const version = sequences.at(-1) ?? (await this.read(stream)).version;
    return { version, sequences, duplicate: events.length > 0 && duplicates === events.length };
  }

  /**
   * One event of an append, sent again with backoff after a transient failure for up to
   * `appendRetryMs` (a cluster electing the stream's leader answers 503 for some seconds). Every
   * attempt carries the same headers, so the message id dedups a copy stored by an attempt whose
   * acknowledgement was lost. A conflict after such an attempt may be that attempt's own event:
   * when the subject's last event carries this message id, the append succeeded.
   */
  async #publish(
    stream: StreamRef,
    subject: string,
    payload: Uint8Array,
    hdrs: MsgHdrs,
    context: ErrorContext,
  ): Promise<PubAck> {
    const deadline = Date.now() + this.#appendRetryMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#pipeline.publish(subject, payload, hdrs, context);
      } catch (error) {
        if (attempt > 0 && error instanceof ConcurrencyError) {
          const stored = await this.#storedBy(stream, subject, hdrs.get('Nats-Msg-Id'));
          if (stored) return stored;
        }
        const delay = appendRetryBackoffMs[Math.min(attempt, appendRetryBackoffMs.length - 1)]!;
        if (!isTransientPublishFailure(error) || Date.now() + delay > deadline) throw error;
        if (attempt === 0)
          this.#logger.warn(
            { event: 'eventstore.append_retried', ...context, error: describeError(error) },
            'append not acknowledged; sending it again',
          );
        await new Promise((resolve) => setTimeout(resolve, delay + Math.floor(Math.random() * delay * 0.2)));
      }
    }
  }

  /** The subject's last event, as an acknowledgement, when it carries `messageId`. */
  async #storedBy(stream: StreamRef, subject: string, messageId: string): Promise<PubAck | undefined> {
    const name = this.streamName(stream.context);
    const last = await this.#direct(await this.#manager(), name, { last_by_subj: subject }, stream).catch(() => null);
    return last && last.header?.get('Nats-Msg-Id') === messageId
      ? { stream: name, seq: last.seq, duplicate: true }
      : undefined;
  }

  async read(stream: StreamRef, options: ReadOptions = {}): Promise<ReadResult> {
    const subject = this.#subject(stream);
    const name = this.streamName(stream.context);
    const jsm = await this.#manager();
    const events: RecordedEvent[] = [];
    let version = options.after ?? 0;
    let seq = version + 1;
    // Aggregates are short: a few direct gets ("next message on this subject from seq") beat
    // creating a consumer. Long ones (no snapshot) switch to an ordered consumer.
    for (let gets = 0; gets < directReadLimit; gets++) {
      const msg = await this.#direct(jsm, name, { seq, next_by_subj: subject }, stream);
      if (!msg) return { events, version };
      const recorded = await this.#decodeOrPark(name, msg.subject, msg.seq, msg.data, 'read');
      if (recorded) events.push(recorded);
      version = msg.seq;
      seq = msg.seq + 1;
    }
    const last = await this.#direct(jsm, name, { last_by_subj: subject }, stream);
    if (!last || last.seq < seq) return { events, version };
    await this.#ordered(name, subject, seq, last.seq, 'read', (recorded) => void events.push(recorded));
    return { events, version: last.seq };
  }

  async subscribe(options: SubscriptionOptions, handler: EventHandler): Promise<Subscription> {
    const { durable } = options;
    if (!durablePattern.test(durable))
      throw new SubscriptionError('durable names are [A-Za-z0-9_-]{1,64}', { durable: durable.slice(0, 64) });
    const parks = parksAfterAttempts(options);
    const concurrency = Math.max(1, Math.floor(options.concurrency ?? 1));
    const name = this.streamName(options.context);
    const filter = this.#filter(options.context, options.aggregate);
    const jsm = await this.#manager();
    const existing = await jsm.consumers
      .info(name, durable)
      .catch((error: unknown) => (isNotFound(error) ? undefined : Promise.reject(error)));
    if (existing && existing.config.filter_subject !== filter) {
      throw new SubscriptionError('durable exists with another filter', { durable, stream: name });
    }
    // A durable created with another ack wait (the default was 30 s) takes this one.
    if (existing && existing.config.ack_wait !== nanos(this.#ackWaitMs))
      await jsm.consumers.update(name, durable, { ack_wait: nanos(this.#ackWaitMs) });
    // ... and the events in flight this subscription asks for.
    if (existing && existing.config.max_ack_pending !== concurrency)
      await jsm.consumers.update(name, durable, { max_ack_pending: concurrency });
    if (!existing) {
      const config: Partial<ConsumerConfig> = {
        durable_name: durable,
        filter_subject: filter,
        ack_policy: AckPolicy.Explicit,
        // One event in flight by default: strict order, and a failed event blocks the ones after it.
        max_ack_pending: concurrency,
        max_deliver: -1,
        ack_wait: nanos(this.#ackWaitMs),
        ...(options.fromSequence && options.fromSequence > 1
          ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: options.fromSequence }
          : { deliver_policy: DeliverPolicy.All }),
      };
      await jsm.consumers.add(name, config);
    }
    const consumer = await this.#js.consumers.get(name, durable);
    const messages = await consumer.consume({ max_messages: 32, expires: pullExpiresMs });
    let stopping = false;
    let lastAcked = 0;
    const progress = new Set<() => void>();
    const notify = () => {
      for (const resolve of [...progress]) resolve();
    };
    // The events being handled (or waiting behind their subject's): JetStream hears they are in
    // progress, so ack_wait can be short (a crashed process's event, or one whose ack the bus lost,
    // comes back within it).
    const inFlight = new Set<JsMsg>();
    const heartbeat = setInterval(
      () => {
        for (const msg of inFlight) msg.working();
      },
      Math.max(250, Math.floor(this.#ackWaitMs / 3)),
    );
    heartbeat.unref();
    // An ack written just before the bus went away may be lost with it, and the event would hold
    // the durable until ack_wait: after a reconnect the last ack is sent again (a second ack of an
    // acknowledged event changes nothing).
    let lastAckSubject: string | undefined;
    const statuses = this.nc.status() as AsyncIterable<{ type: string }> & { stop?: () => void };
    void (async () => {
      for await (const status of statuses)
        if (status.type === 'reconnect' && lastAckSubject && !this.nc.isClosed())
          this.nc.publish(lastAckSubject, '+ACK');
    })();
    // Above one at a time: one subject's events in order, at most `concurrency` handled at once
    // (JetStream delivers no more than max_ack_pending unacknowledged ones anyway).
    const subjects = new KeyedQueue(concurrency);
    const deliver = async (msg: JsMsg) => {
      const acked = await this.#deliver(msg, name, durable, parks, handler);
      if (acked) {
        lastAcked = Math.max(lastAcked, msg.seq);
        // The ack subject (JsMsgImpl has it; the JsMsg interface does not say so).
        lastAckSubject = (msg as unknown as { reply?: string }).reply;
      }
      inFlight.delete(msg);
      notify();
    };
    const loop = (async () => {
      for await (const msg of messages) {
        if (stopping) {
          // Hand it straight back: the next run gets it without waiting for ack_wait.
          msg.nak();
          break;
        }
        inFlight.add(msg);
        if (concurrency === 1) await deliver(msg);
        else void subjects.run(msg.subject, () => deliver(msg));
      }
      await subjects.idle();
    })()
      .finally(() => {
        clearInterval(heartbeat);
        statuses.stop?.();
      })
      .catch((error: unknown) => {
        this.#logger.error(
          { event: 'eventstore.subscription_failed', durable, stream: name, error: describeError(error) },
          'subscription stopped',
        );
      });
    const waitForProgress = (ms: number) =>
      new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          progress.delete(done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        progress.add(done);
      });
    return {
      stop: async () => {
        stopping = true;
        messages.stop();
        await loop;
        // Best effort: an ack the bus did not confirm (closed or reconnecting) is delivered again
        // after ack_wait, and handlers are idempotent.
        if (!this.nc.isClosed())
          await this.nc
            .flush()
            .catch((error: unknown) =>
              this.#logger.warn(
                { event: 'eventstore.stop_flush_failed', durable, stream: name, error: describeError(error) },
                'last acks not confirmed by the bus; unacknowledged events are delivered again',
              ),
            );
        notify();
      },
      caughtUp: async () => {
        const target = (await jsm.streams.info(name)).state.last_seq;
        for (;;) {
          // Handled side by side, a later event's ack says nothing of an earlier one being redelivered.
          if (concurrency === 1 && lastAcked >= target) return;
          if (stopping)
            throw new SubscriptionError('subscription stopped before catching up', { durable, stream: name });
          const info = await jsm.consumers.info(name, durable);
          if (info.ack_floor.stream_seq >= target || (info.num_pending === 0 && info.num_ack_pending === 0)) return;
          await waitForProgress(100);
        }
      },
    };
  }

  async replay(context: BoundedContext, handler: EventHandler, options: ReplayOptions = {}): Promise<number> {
    const name = this.streamName(context);
    const from = Math.max(1, options.fromSequence ?? 1);
    return this.#ordered(name, this.#filter(context, options.aggregate), from, undefined, 'replay', handler);
  }

  /** Snapshots in the namespace's KV bucket (`<NS>_SNAPSHOTS`), opened once. */
  snapshotStore(): Promise<SnapshotStore> {
    this.#snapshots ??= KvSnapshotStore.open(this.nc, { namespace: this.namespace, replicas: this.#replicas });
    return this.#snapshots;
  }

  /** View checkpoints in the same bucket, under `<owner>.view.<name>`, opened once. */
  viewCheckpointStore(): Promise<ViewCheckpointStore> {
    this.#viewCheckpoints ??= KvViewCheckpointStore.open(this.nc, {
      namespace: this.namespace,
      replicas: this.#replicas,
    });
    return this.#viewCheckpoints;
  }

  /**
   * Follows a context (or one aggregate type of it) from `fromSequence`. Followers of the same
   * filter in this store share one ordered consumer and one decode per event (shared-follower.ts);
   * what a follower receives is frozen, since the same object goes to each of them.
   */
  async follow(
    context: BoundedContext,
    handler: (recorded: RecordedEvent) => void,
    options: ReplayOptions = {},
  ): Promise<Subscription> {
    const name = this.streamName(context);
    const filter = this.#filter(context, options.aggregate);
    const from = Math.max(1, options.fromSequence ?? 1);
    const key = `${name} ${filter}`;
    let tail = this.#tails.get(key);
    if (!tail) {
      const opening = SharedTail.open(this.#tailSource(name, filter), from, () => {
        if (this.#tails.get(key) === opening) this.#tails.delete(key);
      });
      this.#tails.set(key, (tail = opening));
      opening.catch(() => {
        if (this.#tails.get(key) === opening) this.#tails.delete(key);
      });
    }
    const opened = await tail;
    // Closed between lookup and attach (its last follower left): open a new one.
    if (opened.closed) return this.follow(context, handler, options);
    return opened.attach(handler, from);
  }

  /** The store's side of a shared tail on `filter`: an ordered consumer, the stream's head, a bounded replay. */
  #tailSource(name: string, filter: string): TailSource {
    return {
      stream: name,
      logger: this.#logger,
      head: async () => (await (await this.#manager()).streams.info(name)).state.last_seq,
      replay: async (from, upTo, handler) => {
        await this.#ordered(name, filter, from, upTo, 'follow', handler);
      },
      // A direct get, answered by any replica: it needs no consumer and no stream leader.
      nextAfter: async (sequence) =>
        (await (await this.#manager()).direct.getMessage(name, { seq: sequence + 1, next_by_subj: filter }))?.seq,
      open: async (from, deliver) => {
        // An ordered consumer: ephemeral, flow-controlled, re-created by the client after a gap.
        const consumer = await this.#js.consumers
          .get(name, {
            filter_subjects: filter,
            ...(from > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from } : {}),
          })
          .catch((error: unknown) =>
            Promise.reject(
              new StoreUnavailableError('could not start an ordered consumer', { stream: name }, { cause: error }),
            ),
          );
        const messages = await consumer.consume({
          max_messages: 1_000,
          threshold_messages: 500,
          expires: pullExpiresMs,
        });
        void resumeWhenRecreated(messages);
        const done = (async () => {
          for await (const msg of messages) {
            const decoded = decodeEvent(msg.data);
            if (decoded.ok)
              deliver({ event: decoded.event, sequence: msg.seq, subject: msg.subject }, msg.info.deliverySequence);
            else
              this.#logger.warn(
                {
                  event: 'eventstore.follow_skipped',
                  stream: name,
                  sequence: msg.seq,
                  type: decoded.type,
                  reason: decoded.reason,
                },
                'invalid event skipped by a follower',
              );
          }
        })().catch((error: unknown) =>
          this.#logger.error(
            { event: 'eventstore.follow_failed', stream: name, error: describeError(error) },
            'follower stopped',
          ),
        );
        return {
          done,
          info: async () => {
            const info = await consumer.info().catch(() => undefined);
            return info && { pending: info.num_pending, delivered: info.delivered.consumer_seq };
          },
          stop: async () => {
            messages.stop();
            await done;
            await consumer.delete().catch(() => undefined);
          },
        };
      },
    };
  }

  /** Stops the publish pipeline; the connection stays the caller's. */
  async close(): Promise<void> {
    this.#pipeline.close();
  }

  /**
   * Delivers what an ordered consumer finds from `from`, up to `upTo` or to what was pending when
   * it was created. Returns the last sequence seen (`from - 1` when none).
   */
  async #ordered(
    name: string,
    filter: string,
    from: number,
    upTo: number | undefined,
    foundBy: string,
    handler: EventHandler,
  ): Promise<number> {
    let last = from - 1;
    const consumer = await this.#js.consumers
      .get(name, {
        filter_subjects: filter,
        ...(from > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from } : {}),
      })
      .catch((error: unknown) =>
        Promise.reject(
          new StoreUnavailableError('could not start an ordered consumer', { stream: name }, { cause: error }),
        ),
      );
    let remaining = (await consumer.info(true)).num_pending;
    if (remaining === 0) {
      await consumer.delete().catch(() => undefined);
      return last;
    }
    const messages = await consumer.consume({ max_messages: 1_000, threshold_messages: 500 });
    try {
      for await (const msg of messages) {
        const seq = msg.seq;
        const decoded = decodeEvent(msg.data);
        // Hot loop: await only what is asynchronous (a sync handler costs no microtask here).
        if (decoded.ok) {
          const pending = handler({ event: decoded.event, sequence: seq, subject: msg.subject });
          if (pending) await pending;
        } else {
          await this.#park(name, msg.subject, seq, msg.data, decoded, foundBy);
        }
        last = seq;
        remaining--;
        if (remaining <= 0 || msg.info.pending === 0 || (upTo !== undefined && msg.seq >= upTo)) break;
      }
    } finally {
      messages.stop();
      // Otherwise the server keeps the ephemeral consumer for its inactivity threshold (5 min).
      await consumer.delete().catch(() => undefined);
    }
    return last;
  }

  /** Hands one delivery to the handler; true when it was acked. */
  async #deliver(msg: JsMsg, name: string, durable: string, parks: boolean, handler: EventHandler): Promise<boolean> {
    let recorded: RecordedEvent | undefined;
    try {
      recorded = await this.#decodeOrPark(name, msg.subject, msg.seq, msg.data, durable);
      if (recorded) await handler(recorded);
    } catch (error) {
      const attempt = msg.info.deliveryCount;
      if (recorded && parks && attempt >= this.#maxHandlerAttempts) {
        // A poison event must not block every event after it forever: set it aside, visibly.
        await parkAndLog(
          this.parked,
          this.#logger,
          poisonEvent(name, msg.subject, msg.seq, msg.data, recorded, attempt, error, durable),
        );
        msg.ack();
        return true;
      }
      const delay = this.#backoff[Math.min(attempt - 1, this.#backoff.length - 1)]!;
      this.#logger.warn(
        {
          event: 'eventstore.handler_failed',
          durable,
          stream: name,
          subject: msg.subject,
          sequence: msg.seq,
          type: recorded?.event.type,
          attempt,
          retryInMs: delay,
          error: describeError(error),
        },
        'handler failed; event will be redelivered',
      );
      msg.nak(delay);
      return false;
    }
    msg.ack();
    return true;
  }

  async #decodeOrPark(
    name: string,
    subject: string,
    sequence: number,
    data: Uint8Array,
    foundBy: string,
  ): Promise<RecordedEvent | undefined> {
    const decoded = decodeEvent(data);
    if (decoded.ok) return { event: decoded.event, sequence, subject };
    await this.#park(name, subject, sequence, data, decoded, foundBy);
    return undefined;
  }

  async #park(
    name: string,
    subject: string,
    sequence: number,
    data: Uint8Array,
    decoded: Exclude<Decoded, { ok: true }>,
    foundBy: string,
  ): Promise<void> {
    await parkAndLog(this.parked, this.#logger, {
      stream: name,
      subject,
      sequence,
      type: decoded.type,
      version: decoded.version,
      reason: decoded.reason,
      foundBy,
      parkedAt: new Date().toISOString(),
      payload: data,
    });
  }

  async #direct(
    jsm: JetStreamManager,
    name: string,
    query: { seq: number; next_by_subj: string } | { last_by_subj: string },
    stream: StreamRef,
  ): Promise<StoredMsg | null> {
    try {
      // A direct get may be answered by any replica, one that has not applied the newest append
      // yet: on a replicated stream, reads that decide commands go to the stream leader, which
      // answers after every acknowledged append (read-your-writes).
      if (this.#replicas > 1) return await jsm.streams.getMessage(name, query as MsgRequest);
      return await jsm.direct.getMessage(name, query);
    } catch (error) {
      throw new StoreUnavailableError('could not read the stream', streamContext(stream), { cause: error });
    }
  }

  #subject(stream: StreamRef): string {
    const key = `${stream.context}\u0000${stream.aggregate}\u0000${stream.id}`;
    let subject = this.#subjects.get(key);
    if (subject === undefined) {
      subject = aggregateSubject(stream.context, stream.aggregate, stream.id, this.namespace);
      if (this.#subjects.size > 10_000) this.#subjects.clear();
      this.#subjects.set(key, subject);
    }
    return subject;
  }

  #filter(context: BoundedContext, aggregate?: string): string {
    return aggregate
      ? `${contextSubject(context, this.namespace)}.${aggregate}.*`
      : `${contextSubject(context, this.namespace)}.>`;
  }

  #manager(): Promise<JetStreamManager> {
    this.#jsm ??= jetStreamManagerForSetup(this.nc);
    return this.#jsm;
  }
}
