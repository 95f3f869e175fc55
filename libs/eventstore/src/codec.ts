import { isContractViolation, validateEvent, type EventEnvelope } from '@tunnelkey/contracts';
import { ValidationError, describeError } from './errors.js';
import type { StreamRef } from './event-store.js';

/** Headers every appended event carries besides `Nats-Msg-Id`: consumers can route without parsing. */
export const eventHeaders = {
  type: 'Tk-Event-Type',
  version: 'Tk-Event-Version',
} as const;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Validates a whole append before anything is written; the first failure throws ValidationError. */
export function validateAppend(stream: StreamRef, events: readonly EventEnvelope[]): void {
  for (let index = 0; index < events.length; index++) {
    const event = events[index];
    try {
      validateEvent(event);
    } catch (error) {
      const reason = isContractViolation(error) ? error.message : describeError(error);
      throw new ValidationError(
        `event ${index} refused: ${reason}`,
        { ...streamContext(stream), index, type: safeType(event) },
        { cause: error },
      );
    }
    if (event!.aggregateId !== stream.id) {
      throw new ValidationError(`event ${index} belongs to aggregate ${event!.aggregateId}, not to the stream's`, {
        ...streamContext(stream),
        index,
      });
    }
  }
}

export function encodeEvent(event: EventEnvelope): Uint8Array {
  return encoder.encode(JSON.stringify(event));
}

export type Decoded =
  | { ok: true; event: EventEnvelope }
  | { ok: false; type: string; version: number | undefined; reason: string };

/** Parses and validates what a consumer found on a stream. Never throws: invalid events get parked. */
export function decodeEvent(data: Uint8Array | string): Decoded {
  let value: unknown;
  try {
    value = JSON.parse(typeof data === 'string' ? data : decoder.decode(data));
  } catch {
    return { ok: false, type: 'unknown', version: undefined, reason: 'payload is not JSON' };
  }
  try {
    return { ok: true, event: validateEvent(value) };
  } catch (error) {
    const candidate = value as { version?: unknown } | null;
    const version = typeof candidate?.version === 'number' ? candidate.version : undefined;
    return {
      ok: false,
      type: safeType(value),
      version,
      reason: isContractViolation(error) ? error.message : describeError(error),
    };
  }
}

export function streamContext(stream: StreamRef) {
  return { context: stream.context, aggregate: stream.aggregate, id: stream.id };
}

function safeType(value: unknown): string {
  const type = (value as { type?: unknown } | null)?.type;
  return typeof type === 'string' ? type.slice(0, 64) : 'unknown';
}
