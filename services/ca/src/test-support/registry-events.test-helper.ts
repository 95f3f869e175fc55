/** Test helper: plays the registry by appending its events (contracts' `create` + the event store). */
import { createHash, randomUUID } from 'node:crypto';
import {
  BatchCreated,
  DeviceIdentityImported,
  DeviceRevoked,
  IdentityVerified,
  ServerPolicyDefined,
  type DataOf,
  type EventDefinition,
} from '@tunnelkey/contracts';
import type { EventStore } from '@tunnelkey/eventstore';

const now = () => new Date().toISOString();

async function append<E extends EventDefinition>(
  store: EventStore,
  definition: E,
  aggregateId: string,
  data: DataOf<E>,
) {
  const id = randomUUID();
  const event = definition.create({
    id,
    aggregateId,
    occurredAt: now(),
    causationId: `test-${id}`,
    correlationId: 'test',
    data,
  });
  await store.append({ context: 'registry', aggregate: definition.aggregate, id: aggregateId }, [event], {
    expectedVersion: 'any',
    messageId: `test-${id}`,
  });
}

export class RegistryFacts {
  constructor(private readonly store: EventStore) {}

  definePolicy(policyId: string, certificateLifetimeDays = 365) {
    return append(this.store, ServerPolicyDefined, policyId, {
      policyId,
      name: `policy ${policyId}`,
      targetIds: [],
      topicRights: [{ topic: 'devices/{deviceId}/#', access: 'publish-subscribe' }],
      certificateLifetimeDays,
    });
  }

  createBatch(batchId: string, policyId: string, ownerId: string, expectedSize = 10) {
    return append(this.store, BatchCreated, batchId, {
      batchId,
      name: `batch ${batchId}`,
      policyId,
      ownerId,
      expectedSize,
    });
  }

  importDevice(deviceId: string, batchId: string, enrolmentPublicKey: Uint8Array) {
    return append(this.store, DeviceIdentityImported, deviceId, {
      deviceId,
      batchId,
      importId: 'import-1',
      source: 'json',
      enrolmentPublicKey: Buffer.from(enrolmentPublicKey).toString('base64'),
      enrolmentKeyDigest: createHash('sha256').update(enrolmentPublicKey).digest('hex'),
    });
  }

  verifyDevice(deviceId: string, enrolmentPublicKey: Uint8Array) {
    return append(this.store, IdentityVerified, deviceId, {
      deviceId,
      challengeId: `c-${deviceId.slice(2, 20)}`,
      nonceDigest: createHash('sha256').update(deviceId).digest('hex'),
      enrolmentKeyDigest: createHash('sha256').update(enrolmentPublicKey).digest('hex'),
    });
  }

  revokeDevice(deviceId: string) {
    return append(this.store, DeviceRevoked, deviceId, {
      deviceId,
      revocationId: `rev-${deviceId.slice(2, 20)}`,
      reason: 'keyCompromise',
      revokedAt: now(),
    });
  }
}
