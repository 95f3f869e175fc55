import { Inject, Injectable } from '@nestjs/common';
import type { DataOf, EnrolmentApprovalRequested, ManufacturerKeyRegistered } from '@tunnelkey/contracts';
import type { EventStore, LiveViewDefinition } from '@tunnelkey/eventstore';
import { EVENT_STORE, READINESS_CHECKS, type ReadinessRegistry } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import type { EnrolmentKeyRequest, HeldEnrolment, ManufacturerKey } from '../deciders/batch.decider.js';
import { RegistryStreams } from '../shared/registry-streams.js';
import { REGISTRY_LOGGER } from '../tokens.js';
import { RegistryView } from './registry-view.js';

export type BatchEnrolmentKeyRequest = EnrolmentKeyRequest & { batchId: string };

export interface EnrolmentKeyRequests {
  requests: Map<string, BatchEnrolmentKeyRequest>;
  /** Per batch: the manufacturer keys registered with it, by key id. */
  manufacturerKeys: Map<string, Map<string, ManufacturerKey>>;
  /** Per request: the devices held for approval, by device id. */
  held: Map<string, Map<string, HeldEnrolment>>;
}

/** What the enrolment-key-request query answers: the request, and whom it holds for approval. */
export interface EnrolmentKeyRequestReport extends BatchEnrolmentKeyRequest {
  open: boolean;
  held: (Pick<HeldEnrolment, 'deviceId' | 'enrolmentKeyDigest' | 'firmwareMeasurement' | 'reason'> & {
    decision: 'pending' | 'approved' | 'rejected';
  })[];
}

/**
 * Query: which batch an enrolment-key request belongs to, whom it asked, until when (a device
 * answers with the request id only); the manufacturer keys of each batch; the devices an open
 * request holds for approval.
 */
export const enrolmentKeyRequestsDefinition: LiveViewDefinition<EnrolmentKeyRequests> = {
  name: 'registry-enrolment-key-requests',
  sources: [{ context: 'registry', aggregate: 'batch' }],
  // Checkpointed: a restart loads the newest checkpoint and replays only what follows. Bump the version
  // when the state or evolve changes.
  checkpoint: { owner: 'registry', version: 1 },
  initialState: () => ({ requests: new Map(), manufacturerKeys: new Map(), held: new Map() }),
  evolve(view, recorded) {
    const { event } = recorded;
    switch (event.type) {
      case 'EnrolmentKeysRequested': {
        const { batchId, requestId, deviceIds, expiresAt } = event.data as BatchEnrolmentKeyRequest;
        if (!view.requests.has(requestId)) {
          view.requests.set(requestId, { batchId, requestId, expiresAt, ...(deviceIds ? { deviceIds } : {}) });
        }
        return view;
      }
      case 'ManufacturerKeyRegistered': {
        const { batchId, ...key } = event.data as DataOf<typeof ManufacturerKeyRegistered>;
        const keys = view.manufacturerKeys.get(batchId) ?? new Map<string, ManufacturerKey>();
        if (!keys.has(key.keyId)) keys.set(key.keyId, key);
        view.manufacturerKeys.set(batchId, keys);
        return view;
      }
      case 'EnrolmentApprovalRequested': {
        const { batchId: _batchId, requestId, ...held } = event.data as DataOf<typeof EnrolmentApprovalRequested>;
        const byDevice = view.held.get(requestId) ?? new Map<string, HeldEnrolment>();
        if (!byDevice.has(held.deviceId)) byDevice.set(held.deviceId, held);
        view.held.set(requestId, byDevice);
        return view;
      }
      case 'HeldEnrolmentDecided': {
        const { requestId, deviceId, decision } = event.data as {
          requestId: string;
          deviceId: string;
          decision: 'approved' | 'rejected';
        };
        const held = view.held.get(requestId)?.get(deviceId);
        if (held) held.decision = decision;
        return view;
      }
      default:
        return view;
    }
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

  /** Open requests (no device ids) that have not expired at `now`. */
  openRequests(now: Date): BatchEnrolmentKeyRequest[] {
    return [...this.state.requests.values()].filter(
      (request) => !request.deviceIds && Date.parse(request.expiresAt) >= now.getTime(),
    );
  }

  manufacturerKey(batchId: string, keyId: string): ManufacturerKey | undefined {
    return this.state.manufacturerKeys.get(batchId)?.get(keyId);
  }

  held(requestId: string, deviceId: string): HeldEnrolment | undefined {
    return this.state.held.get(requestId)?.get(deviceId);
  }

  report(requestId: string, now: Date): EnrolmentKeyRequestReport | undefined {
    const request = this.request(requestId);
    if (!request) return undefined;
    const held = [...(this.state.held.get(requestId)?.values() ?? [])].map(
      ({ deviceId, enrolmentKeyDigest, firmwareMeasurement, reason, decision }) => ({
        deviceId,
        enrolmentKeyDigest,
        firmwareMeasurement,
        reason,
        decision: decision ?? ('pending' as const),
      }),
    );
    return { ...request, open: Date.parse(request.expiresAt) >= now.getTime(), held };
  }
}
