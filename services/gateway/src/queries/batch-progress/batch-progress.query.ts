import { Type } from '@sinclair/typebox';
import { NotFound } from '../../errors.js';
import { batchesCollection } from '../../projections/fleet.projection.js';
import { deviceStates, type BatchDocument } from '../../projections/fleet.views.js';
import type { MemoryReadStore } from '../../read-model/memory-read-store.js';
import { slice, type Page, type PageRequest } from '../paging.js';

export type BatchProgress = BatchDocument & { counts: Record<(typeof deviceStates)[number], number> };

export const BatchProgressSchema = Type.Object(
  {
    batchId: Type.String(),
    name: Type.String(),
    policyId: Type.String(),
    ownerId: Type.String(),
    expectedSize: Type.Integer(),
    createdAt: Type.String({ format: 'date-time' }),
    counts: Type.Object(Object.fromEntries(deviceStates.map((s) => [s, Type.Integer({ minimum: 0 })]))),
    devices: Type.Integer({ minimum: 0 }),
    connected: Type.Integer({ minimum: 0 }),
    verificationFailures: Type.Integer({ minimum: 0 }),
    certificateRejections: Type.Integer({ minimum: 0 }),
    imports: Type.Integer({ minimum: 0 }),
    rejectedRows: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: true },
);

function progressOf(batch: BatchDocument): BatchProgress {
  const counts = Object.fromEntries(deviceStates.map((s) => [s, batch.counts?.[s] ?? 0])) as BatchProgress['counts'];
  return { ...batch, counts };
}

/** Batches, newest first, with counts per device state. */
export function listBatches(store: MemoryReadStore, page: PageRequest): Page<BatchProgress> {
  const batches = [...(store.collection(batchesCollection).values() as Iterable<unknown>)]
    .map((doc) => doc as BatchDocument)
    .filter((batch) => batch.name !== undefined)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || a.batchId.localeCompare(b.batchId));
  return { ...slice(batches, page), items: slice(batches, page).items.map(progressOf) };
}

export function batchProgress(store: MemoryReadStore, batchId: string): BatchProgress {
  const batch = store.get<BatchDocument>(batchesCollection, batchId);
  if (!batch || batch.name === undefined) throw new NotFound(`batch ${batchId} is not known`);
  return progressOf(batch);
}
