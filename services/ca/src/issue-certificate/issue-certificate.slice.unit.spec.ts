/**
 * Slice: a device's CSR through the uplink controller and the issuance pipeline, on the in-memory
 * event store with in-memory doubles of the key store and the downlinks.
 */
import { X509Certificate } from 'node:crypto';
import { jest } from '@jest/globals';
import { CertificateIssued, CertificateRejected, keyAttestationBytes } from '@tunnelkey/contracts';
import { signBytes } from '@tunnelkey/device-protocol';
import { StoreUnavailableError } from '@tunnelkey/eventstore';
import { WebCryptoSigner, generateP256KeyPair } from '@tunnelkey/pki';
import { issuingAuthorityId } from '../authority/certificate-authority.js';
import { deviceCertificatesStream } from '../deciders/device-certificates.decider.js';
import { caSlice, silent, TestDevice, type CaSlice } from '../test-support/ca-slice.test-helper.js';
import { CsrUplinkController, type IssuanceMetrics } from './csr.uplink-controller.js';
import { IssueCertificateHandler, type IssuanceOutcome } from './issue-certificate.handler.js';

describe('issue-certificate slice (in-memory store)', () => {
  let ca: CaSlice;
  let handler: IssueCertificateHandler;
  let uplink: CsrUplinkController;
  const observed: IssuanceOutcome[] = [];

  beforeEach(async () => {
    ca = await caSlice();
    handler = new IssueCertificateHandler(ca.store, ca.authority, ca.eligibility, silent);
    const metrics: IssuanceMetrics = { observe: (outcome) => void observed.push(outcome) };
    // The NATS connection is only used to subscribe at bootstrap; these tests call handle() directly.
    uplink = new CsrUplinkController(
      undefined as never,
      ca.config,
      ca.eligibility,
      handler,
      ca.downlinks,
      metrics,
      ca.clock,
      silent,
      true,
    );
    observed.length = 0;
  });
  afterEach(() => ca.stop());

  const request = async (device: TestDevice, requestId: string) => ({
    deviceId: device.deviceId,
    requestId,
    keyId: 'enrolment',
    csrDer: await device.csr(),
    receivedAt: new Date(),
  });

  it('answers a verified device with a certificate chained to its owner issuing CA, recorded once', async () => {
    const device = await ca.device('b');
    const message = await device.csrMessage({
      requestId: 'req-1',
      keyId: 'enrolment',
      csr: Buffer.from(await device.csr()).toString('base64'),
    });
    const outcome = await uplink.handle(message.subject, message.data);
    expect(outcome).toMatchObject({ kind: 'issued', reused: false });
    const events = await ca.events(deviceCertificatesStream(device.deviceId));
    expect(events.map((e) => e.type)).toEqual(['CertificateIssued']);
    const issued = CertificateIssued.parse(events[0]).data;
    expect(issued).toMatchObject({
      deviceId: device.deviceId,
      requestId: 'req-1',
      authorityId: issuingAuthorityId('acme'),
      keyId: 'enrolment',
    });
    const [answer] = ca.sent;
    expect(answer?.subject).toContain(`${device.deviceId}`);
    expect(answer?.envelope).toMatchObject({
      kind: 'certificate',
      body: { requestId: 'req-1', serialNumber: issued.serialNumber },
    });
    const leaf = new X509Certificate(issued.certificatePem);
    const issuing = new X509Certificate(issued.chainPem[0]!);
    expect(leaf.subject).toBe(`CN=${device.deviceId}`);
    expect(leaf.verify(issuing.publicKey)).toBe(true);
    expect(leaf.checkIssued(issuing)).toBe(true);
    expect(observed).toEqual([expect.objectContaining({ kind: 'issued' })]);
  });

  it('issues again when the log did not acknowledge the certificate it recorded: the device gets the recorded one', async () => {
    const device = await ca.device('b');
    const append = ca.store.append.bind(ca.store);
    let lost = 0;
    // The append lands, its acknowledgement does not (a stalled JetStream): once.
    jest.spyOn(ca.store, 'append').mockImplementation(async (...args) => {
      const result = await append(...args);
      if (lost++ === 0) throw new StoreUnavailableError('no acknowledgement within 5000 ms');
      return result;
    });
    const message = await device.csrMessage({
      requestId: 'req-lost-ack',
      keyId: 'enrolment',
      csr: Buffer.from(await device.csr()).toString('base64'),
    });
    const outcome = await uplink.handle(message.subject, message.data);
    expect(outcome).toMatchObject({ kind: 'issued', reused: true });
    const events = await ca.events(deviceCertificatesStream(device.deviceId));
    expect(events.map((e) => e.type)).toEqual(['CertificateIssued']);
    const answers = ca.sent.filter((s) => s.envelope.kind === 'certificate');
    expect(answers.map((s) => (s.envelope.body as { serialNumber: string }).serialNumber)).toEqual([
      CertificateIssued.parse(events[0]).data.serialNumber,
    ]);
  });

  it('gives a retried request (same id, same key) the recorded certificate and records nothing new', async () => {
    const device = await ca.device('b');
    const first = await handler.issue(await request(device, 'req-retry'));
    const again = await handler.issue(await request(device, 'req-retry'));
    expect(first.kind).toBe('issued');
    expect(again).toMatchObject({ kind: 'issued', reused: true });
    if (first.kind !== 'issued' || again.kind !== 'issued') return;
    expect(again.certificate.serialNumber).toBe(first.certificate.serialNumber);
    expect(await ca.events(deviceCertificatesStream(device.deviceId))).toHaveLength(1);
  });

  it('certifies a TLS key the enrolment key attests, and refuses its request id reused for another key', async () => {
    const device = await ca.device('b');
    const tls = await WebCryptoSigner.fromKeyPair(await generateP256KeyPair());
    const publicKey = Buffer.from(tls.publicKeySpki).toString('base64');
    const statement = keyAttestationBytes({ deviceId: device.deviceId, keyId: 'tls-0', publicKey });
    const keyAttestation = { keyId: 'tls-0', publicKey, signature: await signBytes(statement, device.privateKey) };
    const attested = await handler.issue({
      ...(await request(device, 'req-tls')),
      keyId: 'tls-0',
      csrDer: await device.csr(tls),
      keyAttestation,
    });
    expect(attested).toMatchObject({ kind: 'issued', certificate: { keyId: 'tls-0', requestId: 'req-tls' } });
    const reused = await handler.issue(await request(device, 'req-tls'));
    expect(reused).toMatchObject({ kind: 'rejected', reason: 'request-id-reused' });
    expect((await ca.events(deviceCertificatesStream(device.deviceId))).map((e) => e.type)).toEqual([
      'CertificateIssued',
    ]);
  });

  it('refuses an unverified device: a rejection recorded and answered, no certificate', async () => {
    const device = await ca.device('b', { verified: false });
    const message = await device.csrMessage({
      requestId: 'req-unverified',
      keyId: 'enrolment',
      csr: Buffer.from(await device.csr()).toString('base64'),
    });
    expect(await uplink.handle(message.subject, message.data)).toMatchObject({
      kind: 'rejected',
      reason: 'device-not-verified',
    });
    const events = await ca.events(deviceCertificatesStream(device.deviceId));
    expect(events.map((e) => e.type)).toEqual(['CertificateRejected']);
    expect(CertificateRejected.parse(events[0]).data).toMatchObject({
      requestId: 'req-unverified',
      reason: 'device-not-verified',
    });
    expect(ca.sent.map((s) => s.envelope)).toEqual([
      expect.objectContaining({ kind: 'rejection', body: expect.objectContaining({ code: 'device-not-verified' }) }),
    ]);
  });

  it('ignores a forged envelope: nothing recorded, nothing answered', async () => {
    const device = await ca.device('b');
    const forger = await generateP256KeyPair();
    const csr = Buffer.from(await device.csr()).toString('base64');
    const message = await device.csrMessage({ requestId: 'req-forged', keyId: 'enrolment', csr }, forger.privateKey);
    expect(await uplink.handle(message.subject, message.data)).toEqual({
      kind: 'ignored',
      reason: 'bad-message-signature',
    });
    expect(await ca.events(deviceCertificatesStream(device.deviceId))).toEqual([]);
    expect(ca.sent).toEqual([]);
    expect(observed).toEqual([{ kind: 'ignored', reason: 'bad-message-signature' }]);
  });

  it('ignores a device the registry does not know', async () => {
    const stranger = await TestDevice.create();
    const message = await stranger.csrMessage({
      requestId: 'req-stranger',
      keyId: 'enrolment',
      csr: Buffer.from(await stranger.csr()).toString('base64'),
    });
    expect(await uplink.handle(message.subject, message.data)).toEqual({ kind: 'ignored', reason: 'unknown-device' });
    expect(await ca.events(deviceCertificatesStream(stranger.deviceId))).toEqual([]);
  });
});
