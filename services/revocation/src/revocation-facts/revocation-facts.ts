/**
 * What the saga needs to know about the other contexts, folded from their logs: registry devices
 * and batches, the CA's RevocationApplied, onboarding's targets per device and the CRLs targets
 * enforce, and the saga states themselves. In-process and mutable; every fold is idempotent.
 */
import {
  BatchCreated,
  DeviceAnnounced,
  DeviceDeprovisioned,
  DeviceIdentityImported,
  DeviceOnboarded,
  DeviceRevoked,
  EnrolmentKeyReported,
  RevocationApplied,
  TargetCrlUpdated,
  TargetTrustAnchorInstalled,
  type DataOf,
  type EventEnvelope,
} from '@tunnelkey/contracts';
import { initialRevocationState, revocationDecider, type RevocationEvent, type RevocationState } from '../revocation-saga/revocation.decider.js';

export interface DeviceFacts {
  batchId?: string;
  /** The registry's DeviceRevoked, once recorded. */
  registryRevocation?: DataOf<typeof DeviceRevoked>;
  /** Targets the device is onboarded to -> whether it was deprovisioned there since. */
  targets: Map<string, { deprovisioned: boolean }>;
  /** The revocation (saga) that covers the device, the first one. */
  revocationId?: string;
}

export interface TargetFacts {
  anchors: Set<string>;
  /** Highest CRL number enforced, per authority. */
  crls: Map<string, number>;
}

export class RevocationFacts {
  readonly devices = new Map<string, DeviceFacts>();
  readonly batches = new Map<string, Set<string>>();
  readonly targets = new Map<string, TargetFacts>();
  readonly applied = new Map<string, DataOf<typeof RevocationApplied>>();
  readonly revocations = new Map<string, RevocationState>();

  device(deviceId: string): DeviceFacts {
    let facts = this.devices.get(deviceId);
    if (!facts) this.devices.set(deviceId, (facts = { targets: new Map() }));
    return facts;
  }

  target(targetId: string): TargetFacts {
    let facts = this.targets.get(targetId);
    if (!facts) this.targets.set(targetId, (facts = { anchors: new Set(), crls: new Map() }));
    return facts;
  }

  revocation(revocationId: string): RevocationState {
    return this.revocations.get(revocationId) ?? initialRevocationState();
  }

  /** Folds any context's event; returns the revocations it may move forward. */
  fold(event: EventEnvelope): string[] {
    if (event.type === 'RevocationRequested' || event.type === 'RevocationStepCompleted' || event.type === 'RevocationCompleted') {
      const state = revocationDecider.evolve(this.revocation(event.aggregateId), event as RevocationEvent);
      this.revocations.set(event.aggregateId, state);
      if (event.type === 'RevocationRequested') for (const deviceId of state.deviceIds) this.device(deviceId).revocationId ??= event.aggregateId;
      return [event.aggregateId];
    }
    if (DeviceIdentityImported.is(event) || EnrolmentKeyReported.is(event)) {
      const { deviceId, batchId } = event.data;
      const device = this.device(deviceId);
      if (device.batchId && device.batchId !== batchId) this.batches.get(device.batchId)?.delete(deviceId);
      device.batchId = batchId;
      let members = this.batches.get(batchId);
      if (!members) this.batches.set(batchId, (members = new Set()));
      members.add(deviceId);
      return [];
    }
    if (DeviceAnnounced.is(event)) {
      this.device(event.data.deviceId);
      return [];
    }
    if (BatchCreated.is(event)) {
      if (!this.batches.has(event.data.batchId)) this.batches.set(event.data.batchId, new Set());
      return [];
    }
    if (DeviceRevoked.is(event)) {
      const device = this.device(event.data.deviceId);
      device.registryRevocation ??= event.data;
      return [event.data.revocationId, ...(device.revocationId ? [device.revocationId] : [])];
    }
    if (RevocationApplied.is(event)) {
      this.applied.set(event.data.revocationId, event.data);
      return [event.data.revocationId];
    }
    if (DeviceOnboarded.is(event)) {
      const device = this.device(event.data.deviceId);
      device.targets.set(event.data.targetId, { deprovisioned: false });
      return device.revocationId ? [device.revocationId] : [];
    }
    if (DeviceDeprovisioned.is(event)) {
      const device = this.device(event.data.deviceId);
      if (device.targets.has(event.data.targetId)) device.targets.set(event.data.targetId, { deprovisioned: true });
      return device.revocationId ? [device.revocationId] : [];
    }
    if (TargetTrustAnchorInstalled.is(event)) {
      this.target(event.data.targetId).anchors.add(event.data.authorityId);
      return [];
    }
    if (TargetCrlUpdated.is(event)) {
      const crls = this.target(event.data.targetId).crls;
      crls.set(event.data.authorityId, Math.max(crls.get(event.data.authorityId) ?? 0, event.data.crlNumber));
      // Any revocation waiting for CRLs may be concerned; there are few open at a time.
      return [...this.revocations.values()].filter((r) => r.status === 'CrlPublished').map((r) => r.revocationId!);
    }
    return [];
  }

  /** Is the device revoked or being revoked? Returns the revocation that covers it. */
  coveringRevocation(deviceId: string): string | undefined {
    const device = this.devices.get(deviceId);
    return device?.revocationId ?? device?.registryRevocation?.revocationId;
  }

  openRevocations(): string[] {
    return [...this.revocations.values()].filter((r) => r.status !== 'Completed' && r.status !== 'None').map((r) => r.revocationId!);
  }
}
