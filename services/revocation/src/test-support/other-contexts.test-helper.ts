/** Test helper: plays the registry, the CA and onboarding by appending their events (contracts' `create`). */
import { createHash } from 'node:crypto';
import {
  BatchCreated,
  DeviceDeprovisioned,
  DeviceIdentityImported,
  DeviceOnboarded,
  DeviceRevoked,
  RevocationApplied,
  TargetCrlUpdated,
  TargetTrustAnchorInstalled,
  type DataOf,
  type EventDefinition,
} from '@tunnelkey/contracts';
import type { EventStore } from '@tunnelkey/eventstore';
import { givenEvent } from '@tunnelkey/testing';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
/** Not a real key: the revocation service never reads it, the contract only wants base64. */
const publicKeyOf = (deviceId: string) => Buffer.from(`spki-of-${deviceId}`).toString('base64');

export class OtherContexts {
  constructor(private readonly store: EventStore) {}

  async #append<E extends EventDefinition>(definition: E, aggregateId: string, data: DataOf<E>): Promise<void> {
    await givenEvent(this.store, definition, aggregateId, data);
  }

  createBatch(batchId: string): Promise<void> {
    const data = { batchId, name: `batch ${batchId}`, policyId: 'policy-1', ownerId: 'acme', expectedSize: 100 };
    return this.#append(BatchCreated, batchId, data);
  }

  importDevice(deviceId: string, batchId: string): Promise<void> {
    return this.#append(DeviceIdentityImported, deviceId, {
      deviceId,
      batchId,
      importId: 'import-1',
      source: 'json',
      enrolmentPublicKey: publicKeyOf(deviceId),
      enrolmentKeyDigest: sha256(publicKeyOf(deviceId)),
    });
  }

  /** The CA's answer to a RevocationRequested: every certificate revoked, one CRL. */
  applyRevocation(revocationId: string, devices: number, crl = { authorityId: 'issuing-acme', crlNumber: 2 }) {
    const crls = [{ ...crl, crlDigest: sha256(`crl-${crl.crlNumber}`) }];
    const data = { revocationId, devices, certificatesRevoked: devices, alreadyRevoked: 0, crls };
    return this.#append(RevocationApplied, revocationId, data);
  }

  onboard(deviceId: string, targetId: string, batchId: string): Promise<void> {
    return this.#append(DeviceOnboarded, deviceId, {
      deviceId,
      targetId,
      batchId,
      policyId: 'policy-1',
      clientId: deviceId,
      roleName: 'role-1',
      topicPrefix: `devices/${deviceId}`,
    });
  }

  deprovision(deviceId: string, targetId: string, revocationId: string): Promise<void> {
    return this.#append(DeviceDeprovisioned, deviceId, { deviceId, targetId, reason: 'revoked', revocationId });
  }

  trust(targetId: string, authorityId = 'issuing-acme'): Promise<void> {
    const data = { targetId, authorityId, fingerprintSha256: sha256(authorityId) };
    return this.#append(TargetTrustAnchorInstalled, targetId, data);
  }

  enforceCrl(targetId: string, crlNumber: number, authorityId = 'issuing-acme'): Promise<void> {
    const data = { targetId, authorityId, crlNumber, crlDigest: sha256(`crl-${crlNumber}`) };
    return this.#append(TargetCrlUpdated, targetId, data);
  }

  markRevoked(deviceId: string, revocationId: string): Promise<void> {
    const data = { deviceId, revocationId, reason: 'keyCompromise' as const, revokedAt: new Date().toISOString() };
    return this.#append(DeviceRevoked, deviceId, data);
  }
}
