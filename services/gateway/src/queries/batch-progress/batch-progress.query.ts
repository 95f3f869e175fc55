import { Type } from '@sinclair/typebox';
import { NotFound } from '../../errors.js';
import type { ProjectionDocument, ProjectionStore } from '@tunnelkey/projection-store';
import { batchesCollection, devicesCollection, fleetProjectionName } from '../../views/fleet.view.js';
import { deviceStates, milestoneFlags, stateOf, type BatchDocument } from '../../views/fleet-documents.js';
import type { Page, PageRequest } from '../paging.js';

export type BatchProgress = Omit<BatchDocument, 'id'> & {
  counts: Record<(typeof deviceStates)[number], number>;
  devices: number;
  connected: number;
  /** Devices with a failed identity verification. */
  verificationFailures: number;
  /** Devices with a rejected certificate request. */
  certificateRejections: number;
};

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

/** Counts grouped by these device fields, per batch: its state flags, connection and failures. */
const countedBy = ['batchId', ...milestoneFlags, 'connection', 'verificationFailed', 'certificateRejected'];

type Counts = Pick<
  BatchProgress,
  'counts' | 'devices' | 'connected' | 'verificationFailures' | 'certificateRejections'
>;

const noCounts = (): Counts => ({
  counts: Object.fromEntries(deviceStates.map((s) => [s, 0])) as BatchProgress['counts'],
  devices: 0,
  connected: 0,
  verificationFailures: 0,
  certificateRejections: 0,
});

/** A batch's counts, derived from its devices (never kept as counters: a rebuild gives the same, a duplicate fact adds nothing). */
async function countsPerBatch(store: ProjectionStore, batchId?: string): Promise<Map<string, Counts>> {
  const groups = await store.countBy(fleetProjectionName, devicesCollection, {
    by: countedBy,
    ...(batchId ? { where: { batchId } } : {}),
  });
  const perBatch = new Map<string, Counts>();
  for (const { key, count } of groups) {
    if (typeof key.batchId !== 'string') continue;
    let counts = perBatch.get(key.batchId);
    if (!counts) perBatch.set(key.batchId, (counts = noCounts()));
    counts.counts[stateOf(key)] += count;
    counts.devices += count;
    if (key.connection === 'connected') counts.connected += count;
    if (key.verificationFailed === true) counts.verificationFailures += count;
    if (key.certificateRejected === true) counts.certificateRejections += count;
  }
  return perBatch;
}

function progressOf({ id: _id, ...batch }: BatchDocument, counts: Counts | undefined): BatchProgress {
  return { ...batch, ...(counts ?? noCounts()) };
}

/** Batches, newest first, with counts per device state; of one owner when `ownerId` is given. */
export async function listBatches(
  store: ProjectionStore,
  page: PageRequest,
  ownerId?: string,
): Promise<Page<BatchProgress>> {
  const batches = await store.find<BatchDocument & ProjectionDocument>(fleetProjectionName, batchesCollection, {
    ...(ownerId !== undefined ? { where: { ownerId } } : {}),
    sort: [{ field: 'createdAt', direction: 'desc' }],
    skip: page.offset,
    limit: page.limit,
  });
  const counts =
    batches.items.length === 1
      ? await countsPerBatch(store, batches.items[0]!.batchId)
      : batches.items.length > 0
        ? await countsPerBatch(store)
        : new Map<string, Counts>();
  return {
    items: batches.items.map((batch) => progressOf(batch, counts.get(batch.batchId))),
    total: batches.total,
    limit: page.limit,
    offset: page.offset,
  };
}

export async function batchProgress(store: ProjectionStore, batchId: string): Promise<BatchProgress> {
  const batch = await store.get<BatchDocument & ProjectionDocument>(fleetProjectionName, batchesCollection, batchId);
  if (!batch || batch.name === undefined) throw new NotFound(`batch ${batchId} is not known`);
  return progressOf(batch, (await countsPerBatch(store, batchId)).get(batchId));
}
