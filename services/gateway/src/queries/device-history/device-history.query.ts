import { Type } from '@sinclair/typebox';
import { maxPageSize, type ProjectionDocument, type ProjectionStore } from '@tunnelkey/projection-store';
import { NotFound } from '../../errors.js';
import {
  deviceHistoryProjectionName,
  historyEntriesCollection,
  type HistoryEntry,
  type HistoryEntryDocument,
} from '../../views/device-history.view.js';
import { entriesOfOwner } from '../../owners/owner-era.js';
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

/** Most entries an owner's view of a device reads (a history is bounded by the lifecycle, telemetry folded). */
const maxEntriesPerOwnerView = 10_000;

/**
 * One page of a device's history, oldest first (`offset` skips the earliest entries), from the
 * device-history read model: one indexed find, whatever the device's telemetry (folded there).
 * `viewer`: an owner's view (owner-era.ts): its own era of the device and the custody chain only;
 * absent, everything (a platform admin).
 */
export async function deviceHistoryPage(
  store: ProjectionStore,
  deviceId: string,
  page: PageRequest,
  viewer?: {
    ownerId: string;
    targetOwnerOf: (targetIds: readonly string[]) => Promise<Map<string, string | undefined>>;
  },
): Promise<HistoryPage> {
  if (viewer) {
    const stored: HistoryEntryDocument[] = [];
    for (let skip = 0; skip < maxEntriesPerOwnerView; skip += maxPageSize) {
      const found = await store.find<HistoryEntryDocument & ProjectionDocument>(
        deviceHistoryProjectionName,
        historyEntriesCollection,
        { where: { deviceId }, sort: [{ field: 'at' }], skip, limit: maxPageSize },
      );
      stored.push(...found.items);
      if (stored.length >= found.total) break;
    }
    if (stored.length === 0) throw new NotFound(`device ${deviceId} has no events`);
    const entries = stored.map(({ entry, reports }) => (reports === undefined ? entry : { ...entry, reports }));
    const targetIds = new Set<string>();
    for (const entry of entries) {
      const targetId = (entry.data as { targetId?: unknown }).targetId;
      if (entry.context === 'onboarding' && typeof targetId === 'string') targetIds.add(targetId);
    }
    const owners = await viewer.targetOwnerOf([...targetIds]);
    const visible = entriesOfOwner(entries, viewer.ownerId, (targetId) => owners.get(targetId));
    return {
      deviceId,
      events: visible.slice(page.offset, page.offset + page.limit),
      total: visible.length,
      limit: page.limit,
      offset: page.offset,
    };
  }
  const found = await store.find<HistoryEntryDocument & ProjectionDocument>(
    deviceHistoryProjectionName,
    historyEntriesCollection,
    { where: { deviceId }, sort: [{ field: 'at' }], skip: page.offset, limit: page.limit },
  );
  if (found.total === 0) throw new NotFound(`device ${deviceId} has no events`);
  const events = found.items.map(({ entry, reports }) => (reports === undefined ? entry : { ...entry, reports }));
  return { deviceId, events, total: found.total, limit: page.limit, offset: page.offset };
}
