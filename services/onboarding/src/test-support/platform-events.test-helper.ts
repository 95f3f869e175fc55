/** Test helper: plays the registry and the CA by appending their events (contracts' `create` + the event store). */
import { createHash } from 'node:crypto';
import {
  BatchCreated,
  CertificateIssued,
  CertificateRevoked,
  CrlPublished,
  DeviceIdentityImported,
  ServerPolicyDefined,
} from '@tunnelkey/contracts';
import type { EventStore } from '@tunnelkey/eventstore';
import { givenEvent } from '@tunnelkey/testing';
import type { TopicRightSpec } from '../target-port/topic-plan.js';
import type { TestAuthority, TestDevice } from './test-pki.test-helper.js';

const now = () => new Date().toISOString();
const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

export class PlatformFacts {
  constructor(private readonly store: EventStore) {}

  definePolicy(policyId: string, targetIds: string[], topicRights: TopicRightSpec[]) {
    return givenEvent(this.store, ServerPolicyDefined, policyId, {
      policyId,
      name: `policy ${policyId}`,
      targetIds,
      topicRights,
      certificateLifetimeDays: 365,
      ownerId: 'acme',
    });
  }

  createBatch(batchId: string, policyId: string, expectedSize: number) {
    return givenEvent(this.store, BatchCreated, batchId, {
      batchId,
      name: `batch ${batchId}`,
      policyId,
      ownerId: 'acme',
      expectedSize,
    });
  }

  importDevice(device: TestDevice, batchId: string) {
    return givenEvent(this.store, DeviceIdentityImported, device.deviceId, {
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
    return givenEvent(this.store, CertificateIssued, device.deviceId, {
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
    return givenEvent(this.store, CertificateRevoked, device.deviceId, {
      deviceId: device.deviceId,
      authorityId: authority.authorityId,
      serialNumber: device.serialHex.toLowerCase(),
      reason: 'keyCompromise',
      revokedAt: now(),
      revocationId,
    });
  }

  publishCrl(authority: TestAuthority, crl: { crlPem: string; crlNumber: number }, revokedCount = 0) {
    return givenEvent(this.store, CrlPublished, authority.authorityId, {
      authorityId: authority.authorityId,
      crlNumber: crl.crlNumber,
      issuer: 'O=tunnelkey-test, CN=acme issuing CA',
      thisUpdate: now(),
      nextUpdate: new Date(Date.now() + 86_400_000).toISOString(),
      url: `http://127.0.0.1/crl/${authority.authorityId}.crl`,
      revokedCount,
      crlDigest: sha256(crl.crlPem),
    });
  }
}
