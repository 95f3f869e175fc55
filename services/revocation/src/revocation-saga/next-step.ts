/**
 * The saga's process manager, pure: given a revocation's state and what the view knows of the
 * other contexts, the next step to record (or nothing: waiting for another context). The saga's
 * handler records it and asks again until nothing is left, after every event that may matter.
 */
import type {
  CompleteRevocationCommand,
  CompleteStepCommand,
  RevocationState,
} from '../deciders/revocation.decider.js';
import type { RevocationStatusState } from '../views/revocation-status.view.js';

export type NextStep = Pick<CompleteStepCommand, 'type' | 'data'> | Pick<CompleteRevocationCommand, 'type' | 'data'>;

/** Targets the revocation's devices are onboarded to, with the devices on each. */
export function involvedTargets(state: RevocationState, view: RevocationStatusState): Map<string, string[]> {
  const targets = new Map<string, string[]>();
  for (const deviceId of state.deviceIds) {
    for (const targetId of view.devices.get(deviceId)?.targets.keys() ?? []) {
      if (!targets.has(targetId)) targets.set(targetId, []);
      targets.get(targetId)!.push(deviceId);
    }
  }
  return targets;
}

export function nextStep(state: RevocationState, view: RevocationStatusState): NextStep | undefined {
  const revocationId = state.revocationId;
  if (!revocationId) return undefined;
  const step = (data: Omit<CompleteStepCommand['data'], 'revocationId'>): NextStep => ({
    type: 'CompleteStep',
    data: { revocationId, ...data },
  });
  const applied = view.applied.get(revocationId);
  const devices = state.deviceIds.length;
  switch (state.status) {
    case 'Requested':
      return applied ? step({ step: 'certificates-revoked', devices: applied.certificatesRevoked }) : undefined;
    case 'CertificatesRevoked': {
      if (!applied) return undefined;
      const crlNumber = Math.max(0, ...applied.crls.map((c) => c.crlNumber));
      return step({ step: 'crl-published', devices, ...(crlNumber > 0 ? { crlNumber } : {}) });
    }
    case 'CrlPublished': {
      const crls = applied?.crls ?? [];
      const targets = involvedTargets(state, view);
      for (const [targetId, onTarget] of [...targets].sort(([a], [b]) => a.localeCompare(b))) {
        const progress = state.targets[targetId];
        if (
          !progress?.deprovisioned &&
          onTarget.every((deviceId) => view.devices.get(deviceId)?.targets.get(targetId)?.deprovisioned)
        ) {
          return step({ step: 'targets-deprovisioned', targetId, devices: onTarget.length });
        }
        const target = view.targets.get(targetId);
        // The target records which CA CRL's revocations it enforces (its own CA's CRL lists the devices).
        const enforced = crls.every((crl) => (target?.crls.get(crl.authorityId) ?? 0) >= crl.crlNumber);
        if (!progress?.crlUpdated && enforced)
          return step({ step: 'targets-crl-updated', targetId, devices: onTarget.length });
      }
      const allDone = [...targets.keys()].every(
        (targetId) => state.targets[targetId]?.deprovisioned && state.targets[targetId]?.crlUpdated,
      );
      return allDone ? step({ step: 'targets-deprovisioned', devices }) : undefined;
    }
    case 'TargetsDeprovisioned':
      return state.deviceIds.every((deviceId) => view.devices.get(deviceId)?.registryRevocation)
        ? step({ step: 'registry-updated', devices })
        : undefined;
    case 'RegistryMarked':
      // Devices revoked before were left out of the request (the command's reply counted them).
      return { type: 'CompleteRevocation', data: { revocationId, devicesRevoked: devices, alreadyRevoked: 0 } };
    default:
      return undefined;
  }
}
