/**
 * Queries: why and when a device was revoked, and where a revocation stands. Read from the
 * revocation-status view (saga states, registry and onboarding events); public data only.
 */
import type { Actor, RevocationReason } from '@tunnelkey/contracts';
import type { RevocationState, RevocationStatus as SagaStatus } from '../deciders/revocation.decider.js';
import { involvedTargets } from '../revocation-saga/next-step.js';
import type { RevocationStatusState } from '../views/revocation-status.view.js';

export interface RevocationView {
  revocationId: string;
  status: SagaStatus;
  scope: 'device' | 'batch';
  batchId?: string;
  devices: number;
  reason: RevocationReason;
  requestedAt: string;
  requestedBy?: Actor;
  correlationId?: string;
  certificatesRevoked?: number;
  crls: { authorityId: string; crlNumber: number }[];
  targets: { targetId: string; devices: number; deprovisioned: boolean; crlUpdated: boolean }[];
  steps: RevocationState['history'];
  completedAt?: string;
  durationMs?: number;
  /** While it has not moved for longer than REVOCATION_STALL_MS: what it waits for, since when. */
  stalled?: RevocationAlert;
  /** Once it missed REVOCATION_DEADLINE_MS (it is still retried). */
  escalated?: RevocationAlert & { deadlineMs: number };
}

/** Why a revocation is late: the context that has not done its part, the step, since when, when recorded. */
export interface RevocationAlert {
  waitingFor: string;
  step: string;
  since: string;
  at: string;
  pendingTargets?: number;
  pendingTargetIds?: string[];
}

const alert = (a: NonNullable<RevocationState['stalled'] | RevocationState['escalated']>): RevocationAlert => ({
  waitingFor: a.waitingFor,
  step: a.step,
  since: a.since,
  at: a.at,
  ...(a.pendingTargets !== undefined ? { pendingTargets: a.pendingTargets } : {}),
  ...(a.pendingTargetIds ? { pendingTargetIds: a.pendingTargetIds } : {}),
});

export interface DeviceRevocationView {
  deviceId: string;
  /** `revoking` while the saga runs, `revoked` once it completed (or the registry says so). */
  status: 'not-revoked' | 'revoking' | 'revoked';
  revocationId?: string;
  reason?: RevocationReason;
  revokedAt?: string;
  requestedBy?: Actor;
  completedAt?: string;
  step?: SagaStatus;
  stalled?: RevocationAlert;
  escalated?: RevocationAlert & { deadlineMs: number };
}

export function revocationView(revocationId: string, view: RevocationStatusState): RevocationView | undefined {
  const state = view.revocations.get(revocationId);
  if (!state || state.status === 'None') return undefined;
  if (!state.revocationId || !state.reason || !state.requestedAt || !state.scope) return undefined;
  const applied = view.applied.get(state.revocationId);
  const targets = [...involvedTargets(state, view)].map(([targetId, devices]) => ({
    targetId,
    devices: devices.length,
    deprovisioned: state.targets[targetId]?.deprovisioned ?? false,
    crlUpdated: state.targets[targetId]?.crlUpdated ?? false,
  }));
  return {
    revocationId: state.revocationId,
    status: state.status,
    scope: state.scope,
    ...(state.batchId ? { batchId: state.batchId } : {}),
    devices: state.deviceIds.length,
    reason: state.reason,
    requestedAt: state.requestedAt,
    ...(state.requestedBy ? { requestedBy: state.requestedBy } : {}),
    ...(state.correlationId ? { correlationId: state.correlationId } : {}),
    ...(state.certificatesRevoked !== undefined ? { certificatesRevoked: state.certificatesRevoked } : {}),
    crls: (applied?.crls ?? []).map(({ authorityId, crlNumber }) => ({ authorityId, crlNumber })),
    targets,
    steps: state.history,
    ...(state.completedAt ? { completedAt: state.completedAt } : {}),
    ...(state.durationMs !== undefined ? { durationMs: state.durationMs } : {}),
    ...(state.stalled ? { stalled: alert(state.stalled) } : {}),
    ...(state.escalated ? { escalated: { ...alert(state.escalated), deadlineMs: state.escalated.deadlineMs } } : {}),
  };
}

export function deviceRevocationView(deviceId: string, view: RevocationStatusState): DeviceRevocationView | undefined {
  const device = view.devices.get(deviceId);
  if (!device) return undefined;
  const revocationId = view.coveringRevocation(deviceId);
  const saga = revocationId ? view.revocations.get(revocationId) : undefined;
  if (saga?.reason && saga.requestedAt) {
    return {
      deviceId,
      status: saga.status === 'Completed' ? 'revoked' : 'revoking',
      revocationId: revocationId!,
      reason: saga.reason,
      revokedAt: saga.requestedAt,
      ...(saga.requestedBy ? { requestedBy: saga.requestedBy } : {}),
      ...(saga.completedAt ? { completedAt: saga.completedAt } : {}),
      step: saga.status,
      ...(saga.stalled ? { stalled: alert(saga.stalled) } : {}),
      ...(saga.escalated ? { escalated: { ...alert(saga.escalated), deadlineMs: saga.escalated.deadlineMs } } : {}),
    };
  }
  const registry = device.registryRevocation;
  if (registry)
    return {
      deviceId,
      status: 'revoked',
      revocationId: registry.revocationId,
      reason: registry.reason,
      revokedAt: registry.revokedAt,
    };
  return { deviceId, status: 'not-revoked' };
}
