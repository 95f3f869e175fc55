/** Test helper: plays the registry by appending its events (contracts' `create` + the event store). */
import { createHash } from 'node:crypto';
import {
  BatchCreated,
  DeviceIdentityImported,
  DeviceRevoked,
  IdentityVerified,
  ServerPolicyDefined,
} from '@tunnelkey/contracts';
import type { EventStore } from '@tunnelkey/eventstore';
import { givenEvent } from '@tunnelkey/testing';

const now = () => new Date().toISOString();

export class RegistryFacts {
  constructor(private readonly store: EventStore) {}

  definePolicy(policyId: string, certificateLifetimeDays = 365) {
    return givenEvent(this.store, ServerPolicyDefined, policyId, {
      policyId,
      name: `policy ${policyId}`,
      targetIds: [],
      topicRights: [{ topic: 'devices/{deviceId}/#', access: 'publish-subscribe' }],
      certificateLifetimeDays,
      ownerId: 'acme',
    });
  }

  createBatch(batchId: string, policyId: string, ownerId: string, expectedSize = 10) {
    return givenEvent(this.store, BatchCreated, batchId, {
      batchId,
      name: `batch ${batchId}`,
      policyId,
      ownerId,
      expectedSize,
    });
  }

  importDevice(deviceId: string, batchId: string, enrolmentPublicKey: Uint8Array) {
    return givenEvent(this.store, DeviceIdentityImported, deviceId, {
      deviceId,
      batchId,
      importId: 'import-1',
      source: 'json',
      enrolmentPublicKey: Buffer.from(enrolmentPublicKey).toString('base64'),
      enrolmentKeyDigest: createHash('sha256').update(enrolmentPublicKey).digest('hex'),
    });
  }

  verifyDevice(deviceId: string, enrolmentPublicKey: Uint8Array) {
    return givenEvent(this.store, IdentityVerified, deviceId, {
      deviceId,
      challengeId: `c-${deviceId.slice(2, 20)}`,
      nonceDigest: createHash('sha256').update(deviceId).digest('hex'),
      enrolmentKeyDigest: createHash('sha256').update(enrolmentPublicKey).digest('hex'),
    });
  }

  revokeDevice(deviceId: string) {
    return givenEvent(this.store, DeviceRevoked, deviceId, {
      deviceId,
      revocationId: `rev-${deviceId.slice(2, 20)}`,
      reason: 'keyCompromise',
      revokedAt: now(),
    });
  }
}
