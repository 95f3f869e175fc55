/**
 * Slice: renewal, rotate then revoke, on the in-memory event store: RenewCertificates records the
 * renewal and asks the device for a CSR for its next TLS key; the attested CSR is issued; the job
 * records the renewal; the device's signed switch report completes it and only then is the previous
 * certificate revoked (superseded) and on the next CRL. Bad input changes nothing.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import {
  CertificateRenewalRequested,
  CertificateSwitchedMessage,
  CrlPublished,
  RenewalPolicyDefined,
  keyAttestationBytes,
  type DeviceBodyOf,
  type DeviceEnvelope,
} from '@tunnelkey/contracts';
import { EnvelopeSigner, signBytes, type CryptoKey } from '@tunnelkey/device-protocol';
import { generateP256KeyPair, WebCryptoSigner } from '@tunnelkey/pki';
import { givenEvent, waitFor } from '@tunnelkey/testing';
import { issuingAuthorityId } from '../authority/certificate-authority.js';
import { crlStream } from '../deciders/crl.decider.js';
import { CaCommandRejected } from '../errors.js';
import { IssueCertificateHandler, type IssuanceOutcome } from '../issue-certificate/issue-certificate.handler.js';
import { caSlice, silent, TestDevice, type CaSlice } from '../test-support/ca-slice.test-helper.js';
import { RenewalsView } from '../views/renewals.view.js';
import { CertificateSwitchedUplinkController } from './certificate-switched.uplink-controller.js';
import { renewalStream } from './renewal.decider.js';
import { RenewCertificatesHandler } from './renew-certificates.handler.js';
import { RenewalRecorder } from './renewal-recorder.js';
import { RenewalsJob } from './renewals.job.js';

describe('renew-certificates slice (in-memory store)', () => {
  let ca: CaSlice;
  let renewals: RenewalsView;
  let issuer: IssueCertificateHandler;
  let handler: RenewCertificatesHandler;
  let job: RenewalsJob;
  let switches: CertificateSwitchedUplinkController;
  let now: number;
  const schedule = { renewalCheckSeconds: 0 };
  const authorityId = issuingAuthorityId('acme');

  beforeEach(async () => {
    ca = await caSlice();
    now = Date.now();
    const clock = () => new Date(now);
    renewals = await RenewalsView.start(ca.store, silent);
    issuer = new IssueCertificateHandler(ca.store, ca.authority, ca.eligibility, silent);
    const recorder = new RenewalRecorder(ca.store, renewals, ca.revoked, clock, silent);
    const requests = ca.csrRequests({ clock });
    const config = { renewalExpirySeconds: 600, renewalCheckSeconds: 0 };
    // The scheduler checks on every sweep once a test turns it on.
    schedule.renewalCheckSeconds = 0;
    handler = new RenewCertificatesHandler(
      ca.eligibility,
      renewals,
      recorder,
      requests,
      ca.authority,
      ca.crls,
      config,
      clock,
      silent,
    );
    job = new RenewalsJob(renewals, ca.eligibility, recorder, handler, ca.crls, schedule, clock, silent);
    const nc = {} as NatsConnection; // handle() is called directly: no subscription
    switches = new CertificateSwitchedUplinkController(
      nc,
      { namespace: '' },
      ca.eligibility,
      renewals,
      recorder,
      job,
      clock,
      silent,
    );
  });
  afterEach(async () => {
    await job.onModuleDestroy();
    await renewals.stop();
    await ca.stop();
  });

  const sentTo = (deviceId: string, kind: string) =>
    ca.sent.filter((s) => s.envelope.deviceId === deviceId && s.envelope.kind === kind).map((s) => s.envelope);
  const bodyOf = <T>(envelope: DeviceEnvelope) => envelope.body as T;

  /** A device certified once (its enrolment key), as CertifyDevices leaves it. */
  const certified = async () => {
    const device = await ca.device('b');
    const csrDer = await device.csr();
    const first = await issuer.issue({
      deviceId: device.deviceId,
      requestId: 'r-first',
      keyId: 'enrolment',
      csrDer,
      receivedAt: new Date(now),
    });
    expect(first.kind).toBe('issued');
    return { device, first: (first as Extract<IssuanceOutcome, { kind: 'issued' }>).certificate };
  };

  /** The device answers its csr-request: a new key (the next TLS generation), attested by its enrolment key. */
  const answer = async (device: TestDevice, options: { attest?: boolean } = {}) => {
    await waitFor(() => sentTo(device.deviceId, 'csr-request').length > 0);
    const { requestId, keyId } = bodyOf<{ requestId: string; keyId: string }>(
      sentTo(device.deviceId, 'csr-request')[0]!,
    );
    const tls = await WebCryptoSigner.fromKeyPair(await generateP256KeyPair());
    const publicKey = Buffer.from(tls.publicKeySpki).toString('base64');
    const statement = keyAttestationBytes({ deviceId: device.deviceId, keyId, publicKey });
    const keyAttestation = { keyId, publicKey, signature: await signBytes(statement, device.privateKey) };
    const outcome = await issuer.issue({
      deviceId: device.deviceId,
      requestId,
      keyId,
      csrDer: await device.csr(tls),
      ...(options.attest === false ? {} : { keyAttestation }),
      receivedAt: new Date(now),
    });
    await renewals.catchUp();
    return { requestId, keyId, outcome };
  };

  const signers = new Map<string, EnvelopeSigner>();
  const switchReport = async (
    device: TestDevice,
    body: DeviceBodyOf<typeof CertificateSwitchedMessage>,
    signWith: CryptoKey = device.privateKey,
  ) => {
    let signer = signers.get(device.deviceId);
    if (!signer) signers.set(device.deviceId, (signer = new EnvelopeSigner(device.deviceId, 0)));
    const envelope = await signer.sign(CertificateSwitchedMessage, body, { keyId: 'enrolment', privateKey: signWith });
    return switches.handle(
      CertificateSwitchedMessage.subject(device.deviceId),
      new TextEncoder().encode(JSON.stringify(envelope)),
    );
  };

  const renewalEvents = async (deviceId: string) => {
    const renewalId = renewals.device(deviceId)?.lastRenewal?.renewalId ?? renewals.device(deviceId)?.renewalId;
    return renewalId ? (await ca.events(renewalStream(renewalId))).map((e) => e.type) : [];
  };

  describe('given a certified device', () => {
    it('rotates then revokes: new key and certificate, the switch reported, then the old certificate superseded on the CRL', async () => {
      const { device, first } = await certified();
      expect(await handler.handle({ commandId: 'op-1', scope: { kind: 'device', deviceId: device.deviceId } })).toEqual(
        {
          operationId: 'op-1',
          devices: 1,
          skipped: 0,
        },
      );
      const { requestId, keyId, outcome } = await answer(device);
      expect(keyId).toBe('tls-0'); // past the enrolment key: the first TLS generation
      expect(outcome).toMatchObject({ kind: 'issued', certificate: { keyId: 'tls-0' } });
      const renewed = (outcome as Extract<IssuanceOutcome, { kind: 'issued' }>).certificate;
      await job.sweep();
      expect(await renewalEvents(device.deviceId)).toEqual(['CertificateRenewalRequested', 'DeviceCertificateRenewed']);
      // Both certificates valid now: nothing is on the CRL yet.
      expect(ca.revoked.revoked(authorityId)).toEqual([]);
      const view = renewals.device(device.deviceId)!;
      expect(view.current?.serialNumber).toBe(renewed.serialNumber);
      expect(view.previous?.serialNumber).toBe(first.serialNumber);

      const report = { requestId, serialNumber: renewed.serialNumber, targetId: 't-1' };
      expect(await switchReport(device, report)).toMatchObject({ kind: 'completed', superseded: first.serialNumber });
      expect(await renewalEvents(device.deviceId)).toEqual([
        'CertificateRenewalRequested',
        'DeviceCertificateRenewed',
        'CertificateRenewalCompleted',
      ]);
      expect(ca.revoked.revoked(authorityId)).toEqual([
        expect.objectContaining({ serialNumber: first.serialNumber, reason: 'superseded' }),
      ]);
      await waitFor(async () =>
        (await ca.events(crlStream(authorityId))).some((e) => CrlPublished.parse(e).data.revokedCount === 1),
      );
      expect(renewals.device(device.deviceId)?.lastRenewal).toMatchObject({ reason: 'operator' });
      expect(renewals.operation('op-1')).toEqual({ requested: 1, renewed: 1, completed: 1, expired: 0 });
      // A repeated report completes nothing twice.
      expect(await switchReport(device, report)).toMatchObject({ kind: 'already-completed' });
    });

    it('lists the certificates superseded within 2 s on one CRL, then publishes the next once they have passed', async () => {
      const [a, b] = [await certified(), await certified()];
      await handler.handle({ commandId: 'op-crl', scope: { kind: 'batch', batchId: 'b' } });
      const answered = [
        { device: a.device, ...(await answer(a.device)) },
        { device: b.device, ...(await answer(b.device)) },
      ] as const;
      await job.sweep();
      const switched = async (i: 0 | 1) => {
        const { device, requestId, outcome } = answered[i];
        const { serialNumber } = (outcome as Extract<IssuanceOutcome, { kind: 'issued' }>).certificate;
        expect(await switchReport(device, { requestId, serialNumber, targetId: 't-1' })).toMatchObject({
          kind: 'completed',
        });
        await job.sweep();
      };
      const listed = async () =>
        (await ca.events(crlStream(authorityId))).map((e) => CrlPublished.parse(e).data.revokedCount).filter((n) => n);
      await switched(0);
      expect(await listed()).toEqual([1]);
      await switched(1); // within 2 s of that CRL: recorded revoked, listed by the next one
      expect(ca.revoked.revoked(authorityId)).toHaveLength(2);
      expect(await listed()).toEqual([1]);
      now += 2_000;
      await job.sweep();
      expect(await listed()).toEqual([1, 2]);
    });

    it('renews a whole batch once, even when the command is retried', async () => {
      const devices = [await certified(), await certified(), await certified()];
      const command = {
        commandId: 'op-batch',
        scope: { kind: 'batch' as const, batchId: 'b' },
        reason: 'key-exposure' as const,
      };
      expect(await handler.handle(command)).toMatchObject({ devices: 3, skipped: 0 });
      expect(await handler.handle(command)).toMatchObject({ devices: 3, skipped: 0 });
      for (const { device } of devices) await answer(device);
      await job.sweep();
      expect(renewals.operation('op-batch')).toEqual({ requested: 3, renewed: 3, completed: 0, expired: 0 });
      expect(
        new Set(ca.sent.filter((s) => s.envelope.kind === 'csr-request').map((s) => s.envelope.deviceId)).size,
      ).toBe(3);
    });

    it('completes even when the device reports before the job recorded its new certificate', async () => {
      const { device } = await certified();
      await handler.handle({ commandId: 'op-fast', scope: { kind: 'device', deviceId: device.deviceId } });
      const { requestId, outcome } = await answer(device);
      const serialNumber = (outcome as Extract<IssuanceOutcome, { kind: 'issued' }>).certificate.serialNumber;
      expect(await switchReport(device, { requestId, serialNumber, targetId: 't-1' })).toMatchObject({
        kind: 'completed',
      });
    });
  });

  describe('given a policy of short-lived certificates (one hour, renewed at half their life)', () => {
    it('issues one-hour certificates and renews each on its own once past half its lifetime (jitter), reason scheduled', async () => {
      await givenEvent(ca.store, RenewalPolicyDefined, 'p', {
        policyId: 'p',
        renewAtShare: 0.5,
        jitterShare: 0.1,
        certificateLifetimeSeconds: 3600,
      });
      await ca.eligibility.catchUp();
      const { device, first } = await certified();
      expect(Date.parse(first.notAfter) - Date.parse(first.notBefore)).toBe(3600_000);
      schedule.renewalCheckSeconds = 1;
      now += 20 * 60_000; // a third of its life: not due
      await job.sweep();
      expect(await ca.all('ca', 'renewal')).toEqual([]);
      now += 20 * 60_000; // two thirds: past half, whatever its jitter
      await job.sweep();
      const requested = (await ca.all('ca', 'renewal')).map((e) => CertificateRenewalRequested.parse(e).data);
      expect(requested).toEqual([
        expect.objectContaining({
          deviceId: device.deviceId,
          reason: 'scheduled',
          keyId: 'tls-0',
          previous: expect.objectContaining({ serialNumber: first.serialNumber }),
        }),
      ]);
      expect(sentTo(device.deviceId, 'csr-request')).toHaveLength(1);
      // Under way: the next check starts nothing more for it.
      now += 60_000;
      await job.sweep();
      expect(await ca.all('ca', 'renewal')).toHaveLength(1);
    });
  });

  describe('bad input changes nothing', () => {
    it('refuses an unknown device', async () => {
      const stranger = await TestDevice.create();
      await expect(
        handler.handle({ commandId: 'op-x', scope: { kind: 'device', deviceId: stranger.deviceId } }),
      ).rejects.toMatchObject({ reason: 'unknown-device' });
      expect(await ca.all('ca', 'renewal')).toEqual([]);
    });

    it('refuses a revoked device', async () => {
      const { device } = await certified();
      await ca.registry.revokeDevice(device.deviceId);
      await expect(
        handler.handle({ commandId: 'op-x', scope: { kind: 'device', deviceId: device.deviceId } }),
      ).rejects.toBeInstanceOf(CaCommandRejected);
      expect(await ca.all('ca', 'renewal')).toEqual([]);
    });

    it('refuses a device that holds no certificate', async () => {
      const device = await ca.device('b');
      await expect(
        handler.handle({ commandId: 'op-x', scope: { kind: 'device', deviceId: device.deviceId } }),
      ).rejects.toMatchObject({ reason: 'device-not-certified' });
      expect(await ca.all('ca', 'renewal')).toEqual([]);
    });

    it('refuses a renewal CSR whose key the enrolment key did not attest: the renewal is given up, the old certificate stays valid', async () => {
      const { device } = await certified();
      await handler.handle({ commandId: 'op-2', scope: { kind: 'device', deviceId: device.deviceId } });
      const { outcome } = await answer(device, { attest: false });
      expect(outcome).toMatchObject({ kind: 'rejected', reason: 'key-not-enrolled' });
      await job.sweep();
      expect(await renewalEvents(device.deviceId)).toEqual([]);
      expect(renewals.operation('op-2')).toMatchObject({ requested: 1, expired: 1 });
      expect(ca.revoked.revoked(authorityId)).toEqual([]);
    });

    it('ignores a switch report signed by another key, refuses one naming the old certificate', async () => {
      const { device, first } = await certified();
      await handler.handle({ commandId: 'op-3', scope: { kind: 'device', deviceId: device.deviceId } });
      const { requestId, outcome } = await answer(device);
      const serialNumber = (outcome as Extract<IssuanceOutcome, { kind: 'issued' }>).certificate.serialNumber;
      await job.sweep();
      const forger = await TestDevice.create();
      expect(await switchReport(device, { requestId, serialNumber, targetId: 't-1' }, forger.privateKey)).toMatchObject(
        {
          kind: 'ignored',
        },
      );
      expect(await switchReport(device, { requestId, serialNumber: first.serialNumber, targetId: 't-1' })).toEqual({
        kind: 'refused',
        reason: 'not-renewed-certificate',
      });
      expect(ca.revoked.revoked(authorityId)).toEqual([]);
    });

    it('gives a renewal up when the device never switches; its old certificate stays valid', async () => {
      const { device } = await certified();
      await handler.handle({ commandId: 'op-4', scope: { kind: 'device', deviceId: device.deviceId } });
      await answer(device);
      await job.sweep();
      now += 601_000;
      await job.sweep();
      expect(renewals.operation('op-4')).toEqual({ requested: 1, renewed: 1, completed: 0, expired: 1 });
      expect(ca.revoked.revoked(authorityId)).toEqual([]);
    });
  });
});
