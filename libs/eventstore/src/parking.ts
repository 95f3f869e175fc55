import type { Logger } from 'pino';
import { SubscriptionError } from './errors.js';
import { deliveryPolicies, type RecordedEvent, type SubscriptionOptions } from './event-store.js';

/** An event set aside so consumers can move on: it fails its contract, or its handler kept failing. */
export interface ParkedEvent {
  /** JetStream stream (or context) the event was found in. */
  stream: string;
  subject: string;
  sequence: number;
  type: string;
  version?: number;
  reason: string;
  /** The consumer that found it first (durable name, or `replay`). */
  foundBy: string;
  parkedAt: string;
  /** The original bytes, for inspection and repair; never logged. */
  payload: Uint8Array;
}

export interface ParkedEventStore {
  /** Records the event; false when it was already parked (same stream and sequence). */
  park(event: ParkedEvent): Promise<boolean>;
  list(): Promise<ParkedEvent[]>;
}

export class InMemoryParkedEventStore implements ParkedEventStore {
  readonly #parked = new Map<string, ParkedEvent>();

  async park(event: ParkedEvent): Promise<boolean> {
    const key = `${event.stream}:${event.sequence}`;
    if (this.#parked.has(key)) return false;
    this.#parked.set(key, { ...event, payload: event.payload.slice() });
    return true;
  }

  async list(): Promise<ParkedEvent[]> {
    return [...this.#parked.values()].sort((a, b) => a.stream.localeCompare(b.stream) || a.sequence - b.sequence);
  }
}

/** Parks an event and logs it the first time it is parked: type, subject, sequence, reason; never the payload. */
export async function parkAndLog(store: ParkedEventStore, logger: Logger, event: ParkedEvent): Promise<void> {
  const first = await store.park(event);
  if (!first) return;
  logger.warn(
    {
      event: 'eventstore.event_parked',
      stream: event.stream,
      subject: event.subject,
      sequence: event.sequence,
      type: event.type,
      version: event.version,
      reason: event.reason,
      foundBy: event.foundBy,
    },
    `parked ${event.type} at ${event.subject} #${event.sequence}: ${event.reason.split(':')[0]}`,
  );
}

/**
 * A valid event whose handler failed `attempts` times in a row. Only the error's name goes into
 * the reason: its message may quote the payload.
 */
export function poisonEvent(
  stream: string,
  subject: string,
  sequence: number,
  payload: Uint8Array,
  recorded: RecordedEvent,
  attempts: number,
  error: unknown,
  foundBy: string,
  now = Date.now(),
): ParkedEvent {
  const errorName = error instanceof Error ? error.name : typeof error;
  return {
    stream,
    subject,
    sequence,
    type: recorded.event.type,
    version: recorded.event.version,
    reason: `handler failed ${attempts} times (${errorName})`,
    foundBy,
    parkedAt: new Date(now).toISOString(),
    payload,
  };
}

/**
 * Whether a subscription parks an event its handler keeps failing on (`park-after-attempts`, the
 * default) or retries it forever (`retry-forever`). Any other value is refused before subscribing.
 */
export function parksAfterAttempts(options: Pick<SubscriptionOptions, 'durable' | 'delivery'>): boolean {
  const delivery = options.delivery ?? 'park-after-attempts';
  if (!deliveryPolicies.includes(delivery))
    throw new SubscriptionError(`delivery is one of ${deliveryPolicies.join(', ')}`, {
      durable: options.durable.slice(0, 64),
    });
  return delivery === 'park-after-attempts';
}
