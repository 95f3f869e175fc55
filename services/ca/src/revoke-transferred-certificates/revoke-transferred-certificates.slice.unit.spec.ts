/**
 * Slice: OwnershipTransferCompleted -> the old owner's certificates revoked (affiliationChanged), a
 * CRL listing them; the device stays certifiable, for keys of its new owner epoch only. Through the
 * transfer-revocations view and job on the in-memory event store.
 */
import { randomUUID } from 'node:crypto';
import { CertificateRevoked, CrlPublished, OwnershipTransferCompleted } from '@tunnelkey/contracts';
import { waitFor } from '@tunnelkey/testing';
import { issuingAuthorityId } from '../authority/certificate-authority.js';
import { deviceCertificatesStream } from '../deciders/device-certificates.decider.js';
import { IssueCertificateHandler } from '../issue-certificate/issue-certificate.handler.js';
import { caSlice, silent, type CaSlice } from '../test-support/ca-slice.test-helper.js';
import { TransferRevocationsView } from '../views/transfer-revocations.view.js';
import { RevokeTransferredCertificatesHandler } from './revoke-transferred-certificates.handler.js';
import { TransferRevocationsJob } from './transfer-revocations.job.js';

describe('revoke-transferred-certificates slice (in-memory store)', () => {
  let ca: CaSlice;
  let handler: RevokeTransferredCertificatesHandler;
  let view: TransferRevocationsView;
  let job: TransferRevocationsJob;

  beforeEach(async () => {
    ca = await caSlice({ owners: ['acme', 'globex'] });
    await ca.registry.createBatch('globex-b', 'p', 'globex');
    handler = new RevokeTransferredCertificatesHandler(ca.store, ca.crls, ca.revoked, ca.clock, silent);
    view = await TransferRevocationsView.start(ca.store, silent);
    job = new TransferRevocationsJob(view, handler, ca.clock, silent, true);
    job.onApplicationBootstrap();
  });
  afterEach(async () => {
    await job.onModuleDestroy();
    await view.stop();
    await ca.stop();
  });

  const transferred = async (deviceId: string) => {
    const transferId = `t-${randomUUID()}`;
    const event = OwnershipTransferCompleted.create({
      id: randomUUID(),
      aggregateId: deviceId,
      occurredAt: new Date().toISOString(),
      causationId: 'test',
      correlationId: transferId,
      data: { deviceId, transferId, ownerId: 'globex', fromOwnerId: 'acme', ownerEpoch: 1, batchId: 'globex-b' },
    });
    await ca.store.append({ context: 'registry', aggregate: 'device', id: deviceId }, [event], {
      expectedVersion: 'any',
      messageId: event.id,
    });
    return transferId;
  };

  it("revokes the old owner's certificate (affiliationChanged) and publishes a CRL listing it; the new owner certifies keys of epoch 1 only", async () => {
    const device = await ca.device('b');
    const issuance = new IssueCertificateHandler(ca.store, ca.authority, ca.eligibility, silent);
    const issue = async (requestId: string) =>
      issuance.issue({
        deviceId: device.deviceId,
        requestId,
        keyId: 'enrolment',
        csrDer: await device.csr(),
        receivedAt: new Date(),
      });
    const before = await issue('r-acme');
    if (before.kind !== 'issued') throw new Error(`not issued: ${before.kind}`);
    const transferId = await transferred(device.deviceId);
    const revoked = await waitFor(
      async () => {
        const events = (await ca.events(deviceCertificatesStream(device.deviceId))).filter(
          (e) => e.type === 'CertificateRevoked',
        );
        return events.length > 0 ? events.map((e) => CertificateRevoked.parse(e).data) : undefined;
      },
      { timeoutMs: 5_000, description: 'the old certificate revoked' },
    );
    expect(revoked).toEqual([
      expect.objectContaining({
        serialNumber: before.certificate.serialNumber,
        reason: 'affiliationChanged',
        revocationId: transferId,
      }),
    ]);
    const crls = (await ca.events({ context: 'ca', aggregate: 'crl', id: issuingAuthorityId('acme') })).map(
      (e) => CrlPublished.parse(e).data,
    );
    expect(crls.at(-1)).toMatchObject({ revokedCount: 1 });
    // Not a device revocation: nothing refuses further certificates, but the transfer unverified it
    // (the new owner challenges it again) and its enrolment key is no key of epoch 1.
    await ca.eligibility.catchUp();
    expect(ca.eligibility.facts(device.deviceId)).toMatchObject({
      ownerId: 'globex',
      device: { ownerEpoch: 1, verified: false, revoked: false },
    });
    await ca.registry.verifyDevice(device.deviceId, device.publicKeySpki);
    await ca.eligibility.catchUp();
    await expect(issue('r-globex')).resolves.toMatchObject({ kind: 'rejected', reason: 'key-not-enrolled' });
    await view.catchUp();
    expect(view.owed()).toEqual([]);
    // The same transfer delivered again revokes nothing more, and publishes no other CRL.
    await handler.apply({ deviceId: device.deviceId, transferId, ownerEpoch: 1 });
    const after = await ca.events(deviceCertificatesStream(device.deviceId));
    expect(after.filter((e) => e.type === 'CertificateRevoked')).toHaveLength(1);
    expect(await ca.events({ context: 'ca', aggregate: 'crl', id: issuingAuthorityId('acme') })).toHaveLength(
      crls.length,
    );
  });

  it('revokes a certificate of the old epoch recorded after the transfer was handled (one issued before its CA heard of it)', async () => {
    const device = await ca.device('late');
    const issuance = new IssueCertificateHandler(ca.store, ca.authority, ca.eligibility, silent);
    const csrDer = await device.csr();
    await transferred(device.deviceId);
    await view.catchUp();
    expect(view.owed()).toEqual([]); // nothing to revoke yet
    // As if validated before the CA's eligibility view saw the transfer, and recorded after it.
    await ca.eligibility.catchUp();
    const recorded = ca.eligibility.facts(device.deviceId).device!;
    const epoch = recorded.ownerEpoch;
    recorded.ownerEpoch = 0;
    recorded.verified = true;
    const late = await issuance.issue({
      deviceId: device.deviceId,
      requestId: 'r-late',
      keyId: 'enrolment',
      csrDer,
      receivedAt: new Date(),
    });
    recorded.ownerEpoch = epoch;
    if (late.kind !== 'issued') throw new Error(`not issued: ${late.kind}`);
    const revoked = await waitFor(
      async () => {
        const events = (await ca.events(deviceCertificatesStream(device.deviceId))).filter(
          (e) => e.type === 'CertificateRevoked',
        );
        return events.length > 0 ? events.map((e) => CertificateRevoked.parse(e).data) : undefined;
      },
      { timeoutMs: 5_000, description: 'the late certificate revoked' },
    );
    expect(revoked).toEqual([
      expect.objectContaining({ serialNumber: late.certificate.serialNumber, reason: 'affiliationChanged' }),
    ]);
  });
});
