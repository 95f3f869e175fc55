import { Inject, Injectable } from '@nestjs/common';
import type { EventStore, LiveViewDefinition } from '@tunnelkey/eventstore';
import { EVENT_STORE, READINESS_CHECKS, type ReadinessRegistry } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import type { BatchDefinition } from '../deciders/batch.decider.js';
import { deviceStatuses, type DeviceStatus } from '../deciders/device-state.js';
import { RegistryStreams } from '../shared/registry-streams.js';
import { REGISTRY_LOGGER } from '../tokens.js';
import { DeviceByIdView } from './device-by-id.view.js';
import { RegistryView } from './registry-view.js';

export interface BatchSummaries {
  batches: Map<string, { definition: BatchDefinition; createdAt: string; imports: number; members: Set<string> }>;
}

/**
 * Query: batches with their device counts per state. This view keeps the batches and who belongs
 * to which; the statuses come from the device-by-id view when the query is answered. It follows
 * the whole registry stream: a batch's creation and its members' events keep their order.
 */
export const batchSummaryDefinition: LiveViewDefinition<BatchSummaries> = {
  name: 'registry-batch-summary',
  sources: [{ context: 'registry' }],
  initialState: () => ({ batches: new Map() }),
  // Mutates in place (see device-by-id).
  evolve(view, recorded) {
    const { event } = recorded;
    switch (event.type) {
      case 'BatchCreated': {
        const definition = event.data as BatchDefinition;
        if (!view.batches.has(definition.batchId)) {
          view.batches.set(definition.batchId, {
            definition,
            createdAt: event.occurredAt,
            imports: 0,
            members: new Set(),
          });
        }
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

@Injectable()
export class BatchSummaryView extends RegistryView<BatchSummaries> {
  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    streams: RegistryStreams,
    @Inject(READINESS_CHECKS) readiness: ReadinessRegistry,
    @Inject(REGISTRY_LOGGER) logger: Logger,
    private readonly devices: DeviceByIdView,
  ) {
    super(batchSummaryDefinition, store, streams, readiness, logger);
  }

  batchSummary(batchId: string): BatchSummary | undefined {
    const batch = this.state.batches.get(batchId);
    if (!batch) return undefined;
    const byStatus = emptyStatusCounts();
    for (const deviceId of batch.members) {
      const status = this.devices.deviceState(deviceId)?.status;
      if (status) byStatus[status]++;
    }
    return {
      ...batch.definition,
      createdAt: batch.createdAt,
      imports: batch.imports,
      devices: batch.members.size,
      byStatus,
    };
  }

  batchSummaries(): BatchSummary[] {
    return [...this.state.batches.keys()].map((batchId) => this.batchSummary(batchId)!);
  }

  memberCount(batchId: string): number {
    return this.state.batches.get(batchId)?.members.size ?? 0;
  }

  members(batchId: string): string[] {
    return [...(this.state.batches.get(batchId)?.members ?? [])];
  }

  isMember(batchId: string, deviceId: string): boolean {
    return this.state.batches.get(batchId)?.members.has(deviceId) ?? false;
  }
}
