import { Inject, Injectable } from '@nestjs/common';
import type { EventStore, LiveViewDefinition } from '@tunnelkey/eventstore';
import { EVENT_STORE, READINESS_CHECKS, type ReadinessRegistry } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import type { EnrolmentKeyRequest } from '../deciders/batch.decider.js';
import { RegistryStreams } from '../shared/registry-streams.js';
import { REGISTRY_LOGGER } from '../tokens.js';
import { RegistryView } from './registry-view.js';

export type BatchEnrolmentKeyRequest = EnrolmentKeyRequest & { batchId: string };

export interface EnrolmentKeyRequests {
  requests: Map<string, BatchEnrolmentKeyRequest>;
}

/**
 * Query: which batch an enrolment-key request belongs to, whom it asked, until when (a device
 * answers with the request id only).
 */
export const enrolmentKeyRequestsDefinition: LiveViewDefinition<EnrolmentKeyRequests> = {
  name: 'registry-enrolment-key-requests',
  sources: [{ context: 'registry', aggregate: 'batch' }],
  initialState: () => ({ requests: new Map() }),
  evolve(view, recorded) {
    if (recorded.event.type !== 'EnrolmentKeysRequested') return view;
    const { batchId, requestId, deviceIds, expiresAt } = recorded.event.data as BatchEnrolmentKeyRequest;
    if (!view.requests.has(requestId)) {
      view.requests.set(requestId, { batchId, requestId, expiresAt, ...(deviceIds ? { deviceIds } : {}) });
    }
    return view;
  },
};

@Injectable()
export class EnrolmentKeyRequestsView extends RegistryView<EnrolmentKeyRequests> {
  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    streams: RegistryStreams,
    @Inject(READINESS_CHECKS) readiness: ReadinessRegistry,
    @Inject(REGISTRY_LOGGER) logger: Logger,
  ) {
    super(enrolmentKeyRequestsDefinition, store, streams, readiness, logger);
  }

  request(requestId: string): BatchEnrolmentKeyRequest | undefined {
    return this.state.requests.get(requestId);
  }
}
