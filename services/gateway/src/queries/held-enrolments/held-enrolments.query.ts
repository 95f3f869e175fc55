import { Type } from '@sinclair/typebox';
import type { EventStore } from '@tunnelkey/eventstore';
import { NotFound } from '../../errors.js';
import { slice, type Page, type PageRequest } from '../paging.js';

/**
 * Devices an open enrolment-key request of a batch held for an operator (no valid manufacturer
 * attestation), with the decision taken on each: read from the batch's own log (registry.batch),
 * oldest first. The operator approves or rejects them with DecideHeldEnrolments.
 */
export interface HeldEnrolment {
  requestId: string;
  deviceId: string;
  enrolmentKeyDigest: string;
  firmwareMeasurement: string;
  reason: string;
  heldAt: string;
  decision: 'pending' | 'approved' | 'rejected';
  /** Until when the request accepts answers (and decisions). */
  requestExpiresAt?: string;
}

export const heldDecisions = ['pending', 'approved', 'rejected'] as const;

export const HeldEnrolmentSchema = Type.Object({
  requestId: Type.String(),
  deviceId: Type.String(),
  enrolmentKeyDigest: Type.String(),
  firmwareMeasurement: Type.String(),
  reason: Type.String({ description: 'unattested or attestation-invalid' }),
  heldAt: Type.String({ format: 'date-time' }),
  decision: Type.Union(heldDecisions.map((d) => Type.Literal(d))),
  requestExpiresAt: Type.Optional(Type.String({ format: 'date-time' })),
});

export const heldEnrolmentsParameters = {
  decision: Type.Union(
    heldDecisions.map((d) => Type.Literal(d)),
    { description: 'Only the devices with this decision (pending: not decided yet)' },
  ),
};

interface HeldData {
  requestId: string;
  deviceId: string;
  enrolmentKeyDigest: string;
  firmwareMeasurement: string;
  reason: string;
}

export async function heldEnrolments(
  store: EventStore,
  batchId: string,
  page: PageRequest,
  decision?: HeldEnrolment['decision'],
): Promise<Page<HeldEnrolment>> {
  const { events } = await store
    .read({ context: 'registry', aggregate: 'batch', id: batchId })
    // No registry stream yet: no batch either.
    .catch(() => ({ events: [] }));
  if (events.length === 0) throw new NotFound(`batch ${batchId} is not known`);
  const expiries = new Map<string, string>();
  const held = new Map<string, HeldEnrolment>();
  const key = (requestId: string, deviceId: string) => `${requestId}/${deviceId}`;
  for (const { event } of events) {
    if (event.type === 'EnrolmentKeysRequested') {
      const { requestId, expiresAt } = event.data as { requestId: string; expiresAt: string };
      if (!expiries.has(requestId)) expiries.set(requestId, expiresAt);
    } else if (event.type === 'EnrolmentApprovalRequested') {
      const data = event.data as HeldData;
      const id = key(data.requestId, data.deviceId);
      if (held.has(id)) continue;
      const expiresAt = expiries.get(data.requestId);
      held.set(id, {
        requestId: data.requestId,
        deviceId: data.deviceId,
        enrolmentKeyDigest: data.enrolmentKeyDigest,
        firmwareMeasurement: data.firmwareMeasurement,
        reason: data.reason,
        heldAt: event.occurredAt,
        decision: 'pending',
        ...(expiresAt ? { requestExpiresAt: expiresAt } : {}),
      });
    } else if (event.type === 'HeldEnrolmentDecided') {
      const data = event.data as { requestId: string; deviceId: string; decision: 'approved' | 'rejected' };
      const entry = held.get(key(data.requestId, data.deviceId));
      if (entry) entry.decision = data.decision;
    }
  }
  const all = [...held.values()].filter((entry) => decision === undefined || entry.decision === decision);
  return slice(all, page);
}
