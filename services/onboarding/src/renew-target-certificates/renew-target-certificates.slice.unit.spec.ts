/**
 * Slice: onboarding's part of a renewal on the in-memory store and target. A renewed device gets a
 * new target certificate for its new key on every target it is onboarded to, and its connection
 * parameters; its previous target certificate stays off the target CRL until the CA records the
 * switch, then it is listed (rotate, then revoke).
 */
import {
  CertificateIssued,
  CertificateRenewalCompleted,
  DeviceCertificateRenewed,
  type EventEnvelope,
} from '@tunnelkey/contracts';
import { findRevocation, parseCertificate, parseCrl, pemBlocks, spkiEqual } from '@tunnelkey/pki';
import { givenEvent } from '@tunnelkey/testing';
import { InstallTrustHandler } from '../install-trust/install-trust.handler.js';
import { now, startOnboardingSlice, type OnboardingSlice } from '../test-support/onboarding-slice.test-helper.js';
import { RenewTargetCertificatesHandler } from './renew-target-certificates.handler.js';
import { RenewedCertificatesReaction } from './renewed-certificates.reaction.js';

const lists = (crlPem: string, certificatePem: string) =>
  findRevocation(parseCrl(pemBlocks(crlPem)[0]!.der), parseCertificate(certificatePem).serialHex) !== undefined;

describe('renew-target-certificates slice (in-memory store and target)', () => {
  let slice: OnboardingSlice;
  let handler: RenewTargetCertificatesHandler;
  const applied = () => slice.targets.target('broker-a').trustApplied;
  const parametersOf = (deviceId: string) =>
    slice.downlinks
      .filter((d) => d.kind === 'connection-parameters' && d.deviceId === deviceId)
      .map((d) => d.body.clientCertificatePem as string);
  const previous = { authorityId: 'issuing-acme', serialNumber: 'aa01', keyId: 'tls-0', notAfter: now.toISOString() };
  const ids = { renewalId: 'rn-1', operationId: 'op-1' };

  /** The CA renews d-1: a new platform certificate (new key), then DeviceCertificateRenewed naming it. */
  const renew = async (deviceId: string): Promise<EventEnvelope> => {
    await slice.given.certified(deviceId);
    let issued: EventEnvelope | undefined;
    await slice.store.replay('ca', (r) => {
      if (CertificateIssued.is(r.event) && r.event.data.deviceId === deviceId) issued = r.event;
    });
    const certificate = CertificateIssued.parse(issued).data;
    return givenEvent(
      slice.store,
      DeviceCertificateRenewed,
      ids.renewalId,
      {
        ...ids,
        deviceId,
        reason: 'operator',
        requestId: certificate.requestId,
        authorityId: certificate.authorityId,
        serialNumber: certificate.serialNumber,
        keyId: 'tls-1',
        fingerprintSha256: certificate.fingerprintSha256,
        notBefore: certificate.notBefore,
        notAfter: certificate.notAfter,
        previous,
      },
      // The slice's clock stands still: the re-onboarding that follows is recorded at the same moment.
      { occurredAt: now },
    );
  };
  const handle = (renewed: EventEnvelope) =>
    handler.handle({
      eventId: renewed.id,
      correlationId: renewed.correlationId,
      deviceId: DeviceCertificateRenewed.parse(renewed).data.deviceId,
      serialNumber: DeviceCertificateRenewed.parse(renewed).data.serialNumber,
    });

  beforeEach(async () => {
    slice = await startOnboardingSlice();
    handler = slice.get(RenewTargetCertificatesHandler);
    await slice.onboardedBatch({ targetIds: ['broker-a'], deviceIds: ['d-1', 'd-2'], crl: 1 });
  });
  afterEach(() => slice.close());

  const reacted = () => slice.get(RenewedCertificatesReaction).caughtUp();
  const onboardedOf = async (deviceId: string) =>
    (await slice.events('DeviceOnboarded')).filter((e) => (e.data as { deviceId: string }).deviceId === deviceId);

  it('issues a target certificate for the new key, sends it, and lists the old one only once the device switched', async () => {
    const [first] = parametersOf('d-1');
    await renew('d-1');
    await reacted();
    const second = parametersOf('d-1').at(-1)!;
    expect(second).not.toBe(first);
    // The target certificate certifies the renewed platform certificate's key.
    const platform = slice.get(InstallTrustHandler);
    const key = await platform.verifiedDeviceKey('d-1');
    expect(key.ok && spkiEqual(parseCertificate(second).spki, key.publicKeySpki)).toBe(true);
    expect(await onboardedOf('d-1')).toHaveLength(2);
    expect(await onboardedOf('d-2')).toHaveLength(1);

    // Both valid while the device switches: a trust install now does not list the old one.
    await platform.ensureTrust('broker-a', { commandId: 'trust-before-switch', now: now.toISOString() });
    expect(lists(applied().at(-1)!.crls[0]!.crlPem, first!)).toBe(false);

    await givenEvent(slice.store, CertificateRenewalCompleted, ids.renewalId, {
      ...ids,
      deviceId: 'd-1',
      serialNumber: 'bb02',
      targetId: 'broker-a',
      switchedAt: now.toISOString(),
      revokedPrevious: { authorityId: 'issuing-acme', serialNumber: 'aa01', revokedAt: now.toISOString() },
    });
    await platform.refreshTrust({ authorityId: 'issuing-acme', commandId: 'crl-after-switch' });
    const crlPem = applied().at(-1)!.crls[0]!.crlPem;
    expect([lists(crlPem, first!), lists(crlPem, second)]).toEqual([true, false]);
  });

  it('a redelivered event issues nothing new: the parameters are sent again', async () => {
    const renewed = await renew('d-1');
    await reacted();
    const issued = parametersOf('d-1').at(-1);
    expect(await handle(renewed)).toEqual({ issued: [], resent: ['broker-a'] });
    expect(parametersOf('d-1').at(-1)).toBe(issued);
    expect(await onboardedOf('d-1')).toHaveLength(2);
  });

  it('does nothing for a device revoked meanwhile', async () => {
    await slice.given.certified('d-1');
    await slice.given.revoked('d-1', 'rv-1');
    const renewed = await renew('d-1');
    await reacted();
    expect(await handle(renewed)).toMatchObject({ issued: [], skipped: 'device-revoked' });
    expect(await onboardedOf('d-1')).toHaveLength(1);
    expect(parametersOf('d-1')).toHaveLength(1);
  });
});
