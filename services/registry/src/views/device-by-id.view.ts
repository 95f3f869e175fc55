import type { RecordedEvent } from '@tunnelkey/eventstore';
import { deviceDecider, type DeviceEvent } from '../deciders/device.decider.js';
import { identityOf, isEnrolled, type DeviceState, type DeviceStatus } from '../deciders/device-state.js';

/**
 * Query: one device by id (and the announced devices no batch has claimed yet). The view folds
 * the device decider's own `evolve`, so it can never disagree with the aggregate about a status.
 */
export interface DeviceByIdView {
  devices: Map<string, { state: DeviceState; updatedAt: string; sequence: number }>;
  /** Announced and in no batch: who an enrolment-key request without device ids is sent to. */
  unassignedAnnounced: Set<string>;
}

export const deviceByIdView = {
  initialState: (): DeviceByIdView => ({ devices: new Map(), unassignedAnnounced: new Set() }),

  /** Mutates in place: an in-process view of thousands of devices is not copied per event. */
  evolve(view: DeviceByIdView, recorded: RecordedEvent): DeviceByIdView {
    const { event } = recorded;
    if (!recorded.subject.includes('.device.')) return view;
    const previous = view.devices.get(event.aggregateId)?.state ?? deviceDecider.initialState();
    const state = deviceDecider.evolve(previous, event as DeviceEvent);
    view.devices.set(event.aggregateId, { state, updatedAt: event.occurredAt, sequence: recorded.sequence });
    if (state.status === 'Announced') view.unassignedAnnounced.add(event.aggregateId);
    else view.unassignedAnnounced.delete(event.aggregateId);
    return view;
  },
};

/** What the device query answers: public data only (no nonce digests, no challenge internals). */
export interface DeviceDetail {
  deviceId: string;
  status: DeviceStatus;
  batchId?: string;
  source?: string;
  enrolmentPublicKey?: string;
  enrolmentKeyDigest?: string;
  firmwareMeasurement?: string;
  metadata?: Record<string, string>;
  challengePending: boolean;
  verifiedAt?: string;
  lastVerificationFailure?: { reason: string; at: string };
  certificate?: { authorityId: string; serialNumber: string; fingerprintSha256: string; notAfter: string; certifiedAt: string };
  revocation?: { revocationId: string; reason: string; revokedAt: string };
  updatedAt: string;
}

export function deviceDetail(deviceId: string, entry: { state: DeviceState; updatedAt: string }): DeviceDetail {
  const { state, updatedAt } = entry;
  const identity = identityOf(state);
  const enrolled = isEnrolled(state) ? state : undefined;
  const membership = enrolled?.membership ?? (state.status === 'Revoked' ? state.membership : undefined);
  return {
    deviceId,
    status: state.status,
    ...(membership ? { batchId: membership.batchId, source: membership.source } : {}),
    ...(membership?.metadata ? { metadata: membership.metadata } : {}),
    ...(identity ? { enrolmentPublicKey: identity.enrolmentPublicKey, enrolmentKeyDigest: identity.enrolmentKeyDigest } : {}),
    ...(identity?.firmwareMeasurement ? { firmwareMeasurement: identity.firmwareMeasurement } : {}),
    challengePending: enrolled?.challenge !== undefined,
    ...(enrolled?.verifiedAt ? { verifiedAt: enrolled.verifiedAt } : {}),
    ...(enrolled?.lastFailure ? { lastVerificationFailure: { reason: enrolled.lastFailure.reason, at: enrolled.lastFailure.at } } : {}),
    ...(enrolled?.certificate ? { certificate: enrolled.certificate } : {}),
    ...(state.status === 'Revoked' ? { revocation: state.revocation } : {}),
    updatedAt,
  };
}
