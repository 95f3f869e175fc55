/** Test helper: plays the registry and the CA by appending their events (contracts' `create` + the event store). */
import { createHash, randomUUID } from 'node:crypto';
import {
  BatchCreated,
  CertificateIssued,
  CertificateRevoked,
  CrlPublished,
  DeviceIdentityImported,
  ServerPolicyDefined,
  type BoundedContext,
  type DataOf,
  type EventDefinition,
} from '@tunnelkey/contracts';
import type { EventStore } from '@tunnelkey/eventstore';
import type { TopicRightSpec } from '../target-port/topic-plan.js';
import { crlDigestOfPem } from '../shared/crl-source.js';
import type { TestAuthority, TestDevice } from './test-pki.test-helper.js';

const now = () => new Date().toISOString();
const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

async function append<E extends EventDefinition>(
  store: EventStore,
  context: BoundedContext,
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
  await store.append({ context, aggregate: definition.aggregate, id: aggregateId }, [event], {
    expectedVersion: 'any',
    messageId: `test-${id}`,
  });
}

export class PlatformFacts {
  constructor(private readonly store: EventStore) {}

  definePolicy(policyId: string, targetIds: string[], topicRights: TopicRightSpec[]) {
    return append(this.store, 'registry', ServerPolicyDefined, policyId, {
      policyId,
      name: `policy ${policyId}`,
      targetIds,
      topicRights,
      certificateLifetimeDays: 365,
    });
  }

  createBatch(batchId: string, policyId: string, expectedSize: number) {
    return append(this.store, 'registry', BatchCreated, batchId, {
      batchId,
      name: `batch ${batchId}`,
      policyId,
      ownerId: 'acme',
      expectedSize,
    });
  }

  importDevice(device: TestDevice, batchId: string) {
    return append(this.store, 'registry', DeviceIdentityImported, device.deviceId, {
      deviceId: device.deviceId,
      batchId,
      importId: 'import-1',
      source: 'json',
      enrolmentPublicKey: Buffer.from(device.spkiDer).toString('base64'),
      enrolmentKeyDigest: sha256(device.spkiDer),
    });
  }

  certify(device: TestDevice, authority: TestAuthority) {
    const at = now();
    return append(this.store, 'ca', CertificateIssued, device.deviceId, {
      deviceId: device.deviceId,
      requestId: `r-${device.deviceId}`,
      authorityId: authority.authorityId,
      serialNumber: device.serialHex.toLowerCase(),
      subject: `CN=${device.deviceId}`,
      issuer: 'O=tunnelkey-test, CN=acme issuing CA',
      notBefore: at,
      notAfter: new Date(Date.now() + 86_400_000).toISOString(),
      fingerprintSha256: device.fingerprintSha256,
      publicKeyDigest: sha256(device.spkiDer),
      keyId: 'tls-0',
      certificatePem: device.certificatePem,
      chainPem: authority.chainPem,
    });
  }

  revoke(device: TestDevice, authority: TestAuthority, revocationId: string) {
    return append(this.store, 'ca', CertificateRevoked, device.deviceId, {
      deviceId: device.deviceId,
      authorityId: authority.authorityId,
      serialNumber: device.serialHex.toLowerCase(),
      reason: 'keyCompromise',
      revokedAt: now(),
      revocationId,
    });
  }

  publishCrl(authority: TestAuthority, crl: { crlPem: string; crlNumber: number }, revokedCount = 0) {
    return append(this.store, 'ca', CrlPublished, authority.authorityId, {
      authorityId: authority.authorityId,
      crlNumber: crl.crlNumber,
      issuer: 'O=tunnelkey-test, CN=acme issuing CA',
      thisUpdate: now(),
      nextUpdate: new Date(Date.now() + 86_400_000).toISOString(),
      url: `http://127.0.0.1/crl/${authority.authorityId}.crl`,
      revokedCount,
      crlDigest: crlDigestOfPem(crl.crlPem),
    });
  }
}
