/**
 * Queries: why and when a device was revoked, and where a revocation stands. Read from the saga
 * states and the registry facts the runtime keeps; public data only.
 */
import type { Actor, RevocationReason } from '@tunnelkey/contracts';
import type { RevocationFacts } from '../revocation-facts/revocation-facts.js';
import { involvedTargets } from '../revocation-saga/next-step.js';
import type { RevocationState, RevocationStatus } from '../revocation-saga/revocation.decider.js';

export interface RevocationView {
  revocationId: string;
  status: RevocationStatus;
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
}

export interface DeviceRevocationView {
  deviceId: string;
  /** `revoking` while the saga runs, `revoked` once it completed (or the registry says so). */
  status: 'not-revoked' | 'revoking' | 'revoked';
  revocationId?: string;
  reason?: RevocationReason;
  revokedAt?: string;
  requestedBy?: Actor;
  completedAt?: string;
  step?: RevocationStatus;
}

export function revocationView(state: RevocationState, facts: RevocationFacts): RevocationView | undefined {
  if (state.status === 'None' || !state.revocationId || !state.reason || !state.requestedAt || !state.scope) return undefined;
  const applied = facts.applied.get(state.revocationId);
  const targets = [...involvedTargets(state, facts)].map(([targetId, devices]) => ({
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
  };
}

export function deviceRevocationView(deviceId: string, facts: RevocationFacts): DeviceRevocationView | undefined {
  const device = facts.devices.get(deviceId);
  if (!device) return undefined;
  const revocationId = facts.coveringRevocation(deviceId);
  const saga = revocationId ? facts.revocations.get(revocationId) : undefined;
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
    };
  }
  const registry = device.registryRevocation;
  if (registry) return { deviceId, status: 'revoked', revocationId: registry.revocationId, reason: registry.reason, revokedAt: registry.revokedAt };
  return { deviceId, status: 'not-revoked' };
}
