import type { Logger } from 'pino';

/** An event found on a stream that fails its contract: kept aside so consumers can move on. */
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
    `parked ${event.type} at ${event.subject} #${event.sequence}: it fails its contract`,
  );
}
