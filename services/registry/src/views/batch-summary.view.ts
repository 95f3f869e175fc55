import type { RecordedEvent } from '@tunnelkey/eventstore';
import type { BatchDefinition } from '../deciders/batch.decider.js';
import { deviceStatuses, type DeviceStatus } from '../deciders/device-state.js';

/**
 * Query: batches with their device counts per state. This view keeps the batches and who belongs
 * to which; the statuses come from the device-by-id view when the query is answered.
 */
export interface BatchSummaryView {
  batches: Map<string, { definition: BatchDefinition; createdAt: string; imports: number; members: Set<string> }>;
}

export const batchSummaryView = {
  initialState: (): BatchSummaryView => ({ batches: new Map() }),

  /** Mutates in place (see device-by-id). */
  evolve(view: BatchSummaryView, recorded: RecordedEvent): BatchSummaryView {
    const { event } = recorded;
    switch (event.type) {
      case 'BatchCreated': {
        const definition = event.data as BatchDefinition;
        if (!view.batches.has(definition.batchId)) view.batches.set(definition.batchId, { definition, createdAt: event.occurredAt, imports: 0, members: new Set() });
        break;
      }
      case 'IdentitiesImported': {
        const batch = view.batches.get((event.data as { batchId: string }).batchId);
        if (batch) batch.imports++;
        break;
      }
      case 'DeviceIdentityImported':
      case 'EnrolmentKeyReported':
        view.batches.get((event.data as { batchId: string }).batchId)?.members.add(event.aggregateId);
        break;
      case 'OwnershipTransferCompleted': {
        const { batchId } = event.data as { batchId?: string };
        if (!batchId) break;
        for (const batch of view.batches.values()) batch.members.delete(event.aggregateId);
        view.batches.get(batchId)?.members.add(event.aggregateId);
        break;
      }
      default:
        break;
    }
    return view;
  },
};

export interface BatchSummary extends BatchDefinition {
  createdAt: string;
  imports: number;
  /** Devices in the batch, all states. */
  devices: number;
  /** Devices per state (the batch's devices only: Unknown and Announced are always 0). */
  byStatus: Record<DeviceStatus, number>;
}

export function emptyStatusCounts(): Record<DeviceStatus, number> {
  return Object.fromEntries(deviceStatuses.map((status) => [status, 0])) as Record<DeviceStatus, number>;
}
