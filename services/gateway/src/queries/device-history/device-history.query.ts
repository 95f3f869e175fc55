import { Type } from '@sinclair/typebox';
import type { ProjectionDocument, ProjectionStore } from '@tunnelkey/projection-store';
import { NotFound } from '../../errors.js';
import {
  deviceHistoryProjectionName,
  historyEntriesCollection,
  type HistoryEntry,
  type HistoryEntryDocument,
} from '../../views/device-history.view.js';
import type { PageRequest } from '../paging.js';

export type { HistoryEntry } from '../../views/device-history.view.js';

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
  reports: Type.Optional(
    Type.Integer({
      minimum: 1,
      description:
        "TelemetryReceived only: the target's reports this entry stands for (each carries totals; the newest is shown)",
    }),
  ),
});

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

/**
 * One page of a device's history, oldest first (`offset` skips the earliest entries), from the
 * device-history read model: one indexed find, whatever the device's telemetry (folded there).
 */
export async function deviceHistoryPage(
  store: ProjectionStore,
  deviceId: string,
  page: PageRequest,
): Promise<HistoryPage> {
  const found = await store.find<HistoryEntryDocument & ProjectionDocument>(
    deviceHistoryProjectionName,
    historyEntriesCollection,
    { where: { deviceId }, sort: [{ field: 'at' }], skip: page.offset, limit: page.limit },
  );
  if (found.total === 0) throw new NotFound(`device ${deviceId} has no events`);
  const events = found.items.map(({ entry, reports }) => (reports === undefined ? entry : { ...entry, reports }));
  return { deviceId, events, total: found.total, limit: page.limit, offset: page.offset };
}
