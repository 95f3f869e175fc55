/**
 * Slice: RevocationRequested -> certificates revoked, one CRL, RevocationApplied; through the
 * reaction's durable subscription on the in-memory event store.
 */
import { randomUUID } from 'node:crypto';
import {
  CertificateRejected,
  CertificateRevoked,
  CrlPublished,
  RevocationApplied,
  RevocationRequested,
} from '@tunnelkey/contracts';
import { waitFor } from '@tunnelkey/testing';
import { issuingAuthorityId } from '../authority/certificate-authority.js';
import { deviceCertificatesStream } from '../deciders/device-certificates.decider.js';
import { IssueCertificateHandler } from '../issue-certificate/issue-certificate.handler.js';
import { caSlice, silent, type CaSlice, type TestDevice } from '../test-support/ca-slice.test-helper.js';
import { DeviceEligibilityView } from '../views/device-eligibility.view.js';
import { PendingRevocationRequestsView } from '../views/pending-revocation-requests.view.js';
import { caRevocationStream } from './revocation-applied.decider.js';
import { RevocationRequestedReaction } from './revocation-requested.reaction.js';
import { RevokeCertificatesHandler } from './revoke-certificates.handler.js';

describe('revoke-certificates slice (in-memory store)', () => {
  let ca: CaSlice;
  let handler: RevokeCertificatesHandler;

  beforeEach(async () => {
    ca = await caSlice();
    handler = new RevokeCertificatesHandler(ca.store, ca.crls, ca.revoked, ca.clock, silent);
  });
  afterEach(() => ca.stop());

  /** A device with one certificate from the issuance pipeline. */
  const certified = async (): Promise<{ device: TestDevice; serialNumber: string }> => {
    const device = await ca.device('b');
    const issuance = new IssueCertificateHandler(ca.store, ca.authority, ca.eligibility, silent);
    const outcome = await issuance.issue({
      deviceId: device.deviceId,
      requestId: 'r-1',
      keyId: 'enrolment',
      csrDer: await device.csr(),
      receivedAt: new Date(),
    });
    if (outcome.kind !== 'issued') throw new Error(`not issued: ${outcome.kind}`);
    return { device, serialNumber: outcome.certificate.serialNumber };
  };

  const request = (deviceIds: string[]) => {
    const revocationId = `rv-${randomUUID()}`;
    return RevocationRequested.create({
      id: randomUUID(),
      aggregateId: revocationId,
      occurredAt: new Date().toISOString(),
      causationId: 'test',
      correlationId: `corr-${revocationId}`,
      data: { revocationId, scope: 'device', deviceIds, reason: 'keyCompromise' },
    });
  };

  const crlsOf = async () =>
    (await ca.events({ context: 'ca', aggregate: 'crl', id: issuingAuthorityId('acme') })).map(
      (e) => CrlPublished.parse(e).data,
    );

  it("revokes the device's certificates, publishes a CRL listing them, records RevocationApplied, once", async () => {
    const { device, serialNumber } = await certified();
    const revocation = request([device.deviceId]);
    const [applied] = await handler.apply(revocation);
    const revoked = (await ca.events(deviceCertificatesStream(device.deviceId))).filter(
      (e) => e.type === 'CertificateRevoked',
    );
    expect(revoked.map((e) => CertificateRevoked.parse(e).data)).toEqual([
      expect.objectContaining({ serialNumber, reason: 'keyCompromise', revocationId: revocation.data.revocationId }),
    ]);
    expect(revoked[0]!.correlationId).toBe(revocation.correlationId);
    const crls = await crlsOf();
    expect(crls.at(-1)).toMatchObject({ revokedCount: 1 });
    expect(applied).toEqual({
      revocationId: revocation.data.revocationId,
      devices: 1,
      certificatesRevoked: 1,
      alreadyRevoked: 0,
      crls: [
        {
          authorityId: issuingAuthorityId('acme'),
          crlNumber: crls.at(-1)!.crlNumber,
          crlDigest: crls.at(-1)!.crlDigest,
        },
      ],
    });
    const recorded = await ca.events(caRevocationStream(revocation.data.revocationId));
    expect(recorded.map((e) => RevocationApplied.parse(e).data)).toEqual([applied]);
    // Recorded on the device's stream first, in the append that revokes its certificate.
    expect((await ca.events(deviceCertificatesStream(device.deviceId))).map((e) => e.type)).toEqual([
      'CertificateIssued',
      'CertificationRevoked',
      'CertificateRevoked',
    ]);

    await expect(handler.apply(revocation)).resolves.toEqual([applied]);
    expect(await crlsOf()).toEqual(crls);
    expect(await ca.events(caRevocationStream(revocation.data.revocationId))).toHaveLength(1);
  });

  describe('a CSR after the revocation, before the registry records DeviceRevoked', () => {
    const csr = async (issuance: IssueCertificateHandler, device: TestDevice, requestId: string) =>
      issuance.issue({
        deviceId: device.deviceId,
        requestId,
        keyId: 'enrolment',
        csrDer: await device.csr(),
        receivedAt: new Date(),
      });
    const issuedOn = async (device: TestDevice) =>
      (await ca.events(deviceCertificatesStream(device.deviceId))).filter((e) => e.type === 'CertificateIssued');

    it('is refused (device-revoked) and recorded as refused, for a certified device and one never certified', async () => {
      const { device: certifiedDevice } = await certified();
      const neverCertified = await ca.device('b');
      await handler.apply(request([certifiedDevice.deviceId, neverCertified.deviceId]));
      const issuance = new IssueCertificateHandler(ca.store, ca.authority, ca.eligibility, silent);
      // The registry has not recorded DeviceRevoked: its view still finds the devices eligible.
      expect(ca.eligibility.facts(certifiedDevice.deviceId).device?.revoked).toBe(false);
      for (const [device, requestId] of [
        [certifiedDevice, 'r-2'],
        [certifiedDevice, 'r-1'], // a retry of the request certified before: its certificate is revoked
        [neverCertified, 'r-1'],
      ] as const) {
        await expect(csr(issuance, device, requestId)).resolves.toMatchObject({
          kind: 'rejected',
          reason: 'device-revoked',
        });
      }
      expect(await issuedOn(certifiedDevice)).toHaveLength(1);
      expect(await issuedOn(neverCertified)).toEqual([]);
      const refusals = (await ca.all('ca', 'device'))
        .filter((e) => e.type === 'CertificateRejected')
        .map((e) => CertificateRejected.parse(e).data);
      expect(refusals).toEqual([
        expect.objectContaining({ deviceId: certifiedDevice.deviceId, requestId: 'r-2', reason: 'device-revoked' }),
        expect.objectContaining({ deviceId: neverCertified.deviceId, requestId: 'r-1', reason: 'device-revoked' }),
      ]);
    });

    it('is refused by a restarted CA too: the refusal comes from the log, not from memory', async () => {
      const { device } = await certified();
      const neverCertified = await ca.device('b');
      await handler.apply(request([device.deviceId, neverCertified.deviceId]));
      // A restart: views rebuilt from the same log, new handlers.
      const eligibility = await DeviceEligibilityView.start(ca.store, silent);
      try {
        const restarted = new IssueCertificateHandler(ca.store, ca.authority, eligibility, silent);
        await expect(csr(restarted, device, 'r-3')).resolves.toMatchObject({
          kind: 'rejected',
          reason: 'device-revoked',
        });
        await expect(csr(restarted, neverCertified, 'r-3')).resolves.toMatchObject({
          kind: 'rejected',
          reason: 'device-revoked',
        });
        expect(await issuedOn(device)).toHaveLength(1);
        expect(await issuedOn(neverCertified)).toEqual([]);
      } finally {
        await eligibility.stop();
      }
    });
  });

  it('counts a device with nothing left to revoke as already revoked, and publishes no CRL for it', async () => {
    const { device } = await certified();
    await handler.apply(request([device.deviceId]));
    const before = await crlsOf();
    const [again] = await handler.apply(request([device.deviceId]));
    expect(again).toMatchObject({ devices: 1, certificatesRevoked: 0, alreadyRevoked: 1, crls: [] });
    expect(await crlsOf()).toEqual(before);
  });

  it('the reaction applies requests from the log, taking queued ones along under one CRL', async () => {
    const pending = await PendingRevocationRequestsView.start(ca.store, silent);
    const reaction = new RevocationRequestedReaction(ca.store, handler, pending, silent, true);
    const victims = [await certified(), await certified(), await certified()];
    const requests = victims.map((v) => request([v.device.deviceId]));
    for (const r of requests) {
      const stream = { context: 'revocation' as const, aggregate: 'revocation', id: r.data.revocationId };
      await ca.store.append(stream, [r], { expectedVersion: 'any', messageId: r.id });
    }
    await pending.catchUp();
    await reaction.onApplicationBootstrap();
    try {
      const applied = async () => {
        const found = await Promise.all(requests.map((r) => ca.events(caRevocationStream(r.data.revocationId))));
        return found.every((events) => events.length === 1) ? found.flat() : undefined;
      };
      const records = (await waitFor(applied, { timeoutMs: 5_000, description: 'every revocation applied' })).map(
        (e) => RevocationApplied.parse(e).data,
      );
      expect(records.map((r) => r.certificatesRevoked)).toEqual([1, 1, 1]);
      // One CRL for the three.
      expect((await crlsOf()).map((c) => c.revokedCount)).toEqual([3]);
      expect(records.map((r) => r.crls[0]!.crlNumber)).toEqual([1, 1, 1]);
    } finally {
      await reaction.onModuleDestroy();
      await pending.stop();
    }
  });
});
