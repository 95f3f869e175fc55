import { Type } from '@sinclair/typebox';
import type { BoundedContext, EventEnvelope } from '@tunnelkey/contracts';
import type { EventStore } from '@tunnelkey/eventstore';
import { NotFound } from '../../errors.js';
import { slice, type PageRequest } from '../paging.js';

/** Contexts that keep a per-device aggregate (`<context>.device.<id>`). */
const deviceContexts: readonly BoundedContext[] = ['registry', 'ca', 'onboarding', 'ota'];

export interface HistoryEntry {
  context: BoundedContext;
  sequence: number;
  type: string;
  version: number;
  id: string;
  occurredAt: string;
  correlationId: string;
  causationId: string;
  actor?: EventEnvelope['actor'];
  data: unknown;
}

export const HistoryEntrySchema = Type.Object({
  context: Type.String(),
  sequence: Type.Integer(),
  type: Type.String(),
  version: Type.Integer(),
  id: Type.String(),
  occurredAt: Type.String({ format: 'date-time' }),
  correlationId: Type.String(),
  causationId: Type.String(),
  actor: Type.Optional(Type.Object({ kind: Type.String(), id: Type.String() })),
  data: Type.Object({}, { additionalProperties: true }),
});

/**
 * A device's events in order, read from the log itself (not a projection): its aggregate in every
 * context, merged by time (sequences are per stream, so they order within a context only).
 */
export async function deviceHistory(store: EventStore, deviceId: string): Promise<HistoryEntry[]> {
  const reads = await Promise.all(
    deviceContexts.map((context) =>
      store
        .read({ context, aggregate: 'device', id: deviceId })
        .then((result) => result.events.map((recorded) => ({ context, recorded })))
        // A context whose stream does not exist yet (its service never ran) has no history.
        .catch(() => []),
    ),
  );
  const entries = reads.flat().map(({ context, recorded }): HistoryEntry => {
    const { event } = recorded;
    return {
      context,
      sequence: recorded.sequence,
      type: event.type,
      version: event.version,
      id: event.id,
      occurredAt: event.occurredAt,
      correlationId: event.correlationId,
      causationId: event.causationId,
      ...(event.actor ? { actor: event.actor } : {}),
      data: event.data,
    };
  });
  if (entries.length === 0) throw new NotFound(`device ${deviceId} has no events`);
  return entries.sort(
    (a, b) => a.occurredAt.localeCompare(b.occurredAt) || (a.context === b.context ? a.sequence - b.sequence : 0),
  );
}

/** A page of the history's events; the default page is the first 100, a page is at most 500. */
export const historyPageSize = 100;

export interface HistoryPage {
  deviceId: string;
  events: HistoryEntry[];
  total: number;
  limit: number;
  offset: number;
}

export const HistoryPageSchema = Type.Object({
  deviceId: Type.String(),
  events: Type.Array(HistoryEntrySchema),
  total: Type.Integer({ minimum: 0 }),
  limit: Type.Integer(),
  offset: Type.Integer(),
});

/** One page of `deviceHistory`, oldest first: `offset` skips the earliest events. */
export async function deviceHistoryPage(store: EventStore, deviceId: string, page: PageRequest): Promise<HistoryPage> {
  const { items, total, limit, offset } = slice(await deviceHistory(store, deviceId), page);
  return { deviceId, events: items, total, limit, offset };
}
