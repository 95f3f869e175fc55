import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { ConcurrencyError, StoreUnavailableError, type ErrorContext } from '@tunnelkey/eventstore';

/** JetStream's answer to a publish. */
export interface PubAck {
  stream: string;
  seq: number;
  duplicate: boolean;
}

interface Pending {
  resolve: (ack: PubAck) => void;
  reject: (error: Error) => void;
  deadline: number;
  context: ErrorContext;
}

const decoder = new TextDecoder();
/** JetStream API error codes we map to typed errors. */
const wrongLastSequence = new Set([10071, 10164]);
/** JetStream's "temporarily unavailable" (a cluster without a leader for the stream or the API). */
const temporarilyUnavailable = new Set([10008]);

/**
 * Failures after which the same publish may be sent again: nobody answered (503: the stream has no
 * leader while a cluster elects one, or the client is between servers), no acknowledgement in time
 * (the event may or may not be stored: the message id makes a second copy a duplicate), or
 * JetStream said it is temporarily unavailable. Never a refusal or a concurrency conflict.
 */
const transientFailures = new WeakSet<Error>();
const transient = (error: StoreUnavailableError): StoreUnavailableError => {
  transientFailures.add(error);
  return error;
};
export const isTransientPublishFailure = (error: unknown): boolean =>
  error instanceof Error && transientFailures.has(error);

/**
 * Publishes to JetStream and matches acks on ONE shared inbox subscription, with one timer for all
 * outstanding publishes. `js.publish` pays a request (timer, promise plumbing, header copies) per
 * message; with a thousand appends in flight that client overhead, not the server, is the limit.
 */
export class PublishPipeline {
  readonly #pending = new Map<string, Pending>();
  readonly #inbox: string;
  readonly #subscription: Subscription;
  readonly #sweeper: NodeJS.Timeout;
  #next = 0;
  #closed = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {
    this.#inbox = createInbox();
    this.#subscription = nc.subscribe(`${this.#inbox}.*`, { callback: (_error, msg) => this.#onAck(msg) });
    this.#sweeper = setInterval(() => this.#sweep(), Math.max(50, Math.floor(timeoutMs / 4)));
    this.#sweeper.unref();
    void nc.closed().then(() => this.close());
  }

  publish(subject: string, payload: Uint8Array, headers: MsgHdrs, context: ErrorContext): Promise<PubAck> {
    if (this.#closed) return Promise.reject(new StoreUnavailableError('the event store is closed', context));
    return new Promise<PubAck>((resolve, reject) => {
      const token = (this.#next++).toString(36);
      this.#pending.set(token, { resolve, reject, deadline: Date.now() + this.timeoutMs, context });
      try {
        this.nc.publish(subject, payload, { headers, reply: `${this.#inbox}.${token}` });
      } catch (error) {
        this.#pending.delete(token);
        reject(new StoreUnavailableError('publish failed', context, { cause: error }));
      }
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweeper);
    try {
      this.#subscription.unsubscribe();
    } catch {
      // the connection is already closed: nothing left to unsubscribe
    }
    for (const [token, pending] of this.#pending) {
      this.#pending.delete(token);
      pending.reject(new StoreUnavailableError('connection closed before the store acknowledged', pending.context));
    }
  }

  #onAck(msg: Msg): void {
    const token = msg.subject.slice(this.#inbox.length + 1);
    const pending = this.#pending.get(token);
    if (!pending) return;
    this.#pending.delete(token);
    if (msg.headers && msg.headers.code >= 300) {
      // 503: no stream listens on the subject (ensureStreams not run, or wrong namespace).
      const error = new StoreUnavailableError(
        `store did not accept the event (${msg.headers.code} ${msg.headers.description})`,
        pending.context,
      );
      pending.reject(msg.headers.code === 503 ? transient(error) : error);
      return;
    }
    let answer: {
      stream?: string;
      seq?: number;
      duplicate?: boolean;
      error?: { code: number; err_code?: number; description?: string };
    };
    try {
      answer = JSON.parse(decoder.decode(msg.data));
    } catch (error) {
      pending.reject(new StoreUnavailableError('unreadable acknowledgement', pending.context, { cause: error }));
      return;
    }
    if (answer.error) {
      const { code, err_code: errCode = 0, description = 'error' } = answer.error;
      if (wrongLastSequence.has(errCode)) {
        pending.reject(new ConcurrencyError(`stream moved on: ${description}`, pending.context));
        return;
      }
      const error = new StoreUnavailableError(`store refused the event: ${description}`, {
        ...pending.context,
        errCode,
      });
      pending.reject(code === 503 || temporarilyUnavailable.has(errCode) ? transient(error) : error);
      return;
    }
    pending.resolve({ stream: answer.stream ?? '', seq: answer.seq ?? 0, duplicate: answer.duplicate === true });
  }

  #sweep(): void {
    const now = Date.now();
    for (const [token, pending] of this.#pending) {
      if (pending.deadline > now) break; // insertion order is deadline order
      this.#pending.delete(token);
      pending.reject(
        transient(new StoreUnavailableError(`no acknowledgement within ${this.timeoutMs} ms`, pending.context)),
      );
    }
  }
}
