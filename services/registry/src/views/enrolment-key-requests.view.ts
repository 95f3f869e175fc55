import type { RecordedEvent } from '@tunnelkey/eventstore';
import type { EnrolmentKeyRequest } from '../deciders/batch.decider.js';

/** Query: which batch an enrolment-key request belongs to, whom it asked, until when (a device answers with the request id only). */
export interface EnrolmentKeyRequestsView {
  requests: Map<string, EnrolmentKeyRequest & { batchId: string }>;
}

export const enrolmentKeyRequestsView = {
  initialState: (): EnrolmentKeyRequestsView => ({ requests: new Map() }),

  evolve(view: EnrolmentKeyRequestsView, recorded: RecordedEvent): EnrolmentKeyRequestsView {
    if (recorded.event.type !== 'EnrolmentKeysRequested') return view;
    const { batchId, requestId, deviceIds, expiresAt } = recorded.event.data as EnrolmentKeyRequest & { batchId: string };
    if (!view.requests.has(requestId)) view.requests.set(requestId, { batchId, requestId, expiresAt, ...(deviceIds ? { deviceIds } : {}) });
    return view;
  },
};
