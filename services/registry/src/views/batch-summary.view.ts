import { Inject, Injectable } from '@nestjs/common';
import type { EventStore, LiveViewDefinition } from '@tunnelkey/eventstore';
import { EVENT_STORE, READINESS_CHECKS, type ReadinessRegistry } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import type { BatchDefinition } from '../deciders/batch.decider.js';
import type { DeviceStatus } from '../deciders/device-state.js';
import { RegistryStreams } from '../shared/registry-streams.js';
import { REGISTRY_LOGGER } from '../tokens.js';
import { DeviceByIdView } from './device-by-id.view.js';
import { RegistryView } from './registry-view.js';

export interface BatchSummaries {
  batches: Map<string, { definition: BatchDefinition; createdAt: string; imports: number }>;
}

/**
 * Query: batches with their device counts per state. This view follows the batches; their devices
 * and statuses come from the device-by-id view when the query is answered (one feed of device
 * events for both, not two).
 */
export const batchSummaryDefinition: LiveViewDefinition<BatchSummaries> = {
  name: 'registry-batch-summary',
  sources: [{ context: 'registry', aggregate: 'batch' }],
  // Checkpointed: a restart loads the newest checkpoint and replays only what follows. Bump the version
  // when the state or evolve changes.
  checkpoint: { owner: 'registry', version: 1 },
  initialState: () => ({ batches: new Map() }),
  // Mutates in place (see device-by-id).
  evolve(view, recorded) {
    const { event } = recorded;
    if (event.type === 'BatchCreated') {
      const definition = event.data as BatchDefinition;
      if (!view.batches.has(definition.batchId)) {
        view.batches.set(definition.batchId, { definition, createdAt: event.occurredAt, imports: 0 });
      }
    } else if (event.type === 'IdentitiesImported') {
      const batch = view.batches.get((event.data as { batchId: string }).batchId);
      if (batch) batch.imports++;
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
    const devices = this.devices.batchMembers(batchId).size;
    const byStatus = this.devices.batchStatusCounts(batchId);
    return { ...batch.definition, createdAt: batch.createdAt, imports: batch.imports, devices, byStatus };
  }

  batchSummaries(): BatchSummary[] {
    return [...this.state.batches.keys()].map((batchId) => this.batchSummary(batchId)!);
  }
}
