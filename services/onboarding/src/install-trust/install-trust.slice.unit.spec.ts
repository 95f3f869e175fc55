import { READINESS_CHECKS, type ReadinessRegistry } from '@tunnelkey/messaging';
import { findRevocation, parseCertificate, parseCrl, pemBlocks, spkiEqual, verifyChain } from '@tunnelkey/pki';
import { DeprovisionDevicesHandler } from '../deprovision-devices/deprovision-devices.handler.js';
import { OnboardDevicesHandler } from '../onboard-devices/onboard-devices.handler.js';
import { targetAuthorityId } from '../target-authority/target-authority.js';
import {
  now,
  rights,
  startOnboardingSlice,
  type OnboardingSlice,
} from '../test-support/onboarding-slice.test-helper.js';
import { createTestAuthority, createTestRoot } from '../test-support/test-pki.test-helper.js';
import { CertificatesView } from '../views/certificates.view.js';
import { InstallTrustHandler } from './install-trust.handler.js';
import { TargetCrlRefreshJob } from './target-crl-refresh.job.js';

const parsedCrl = (crlPem: string) => parseCrl(pemBlocks(crlPem)[0]!.der);
/** Whether a CRL lists the certificate, and how many it lists. */
const lists = (crlPem: string, certificatePem: string) =>
  findRevocation(parsedCrl(crlPem), parseCertificate(certificatePem).serialHex) !== undefined;
const listed = (crlPem: string) => parsedCrl(crlPem).entries.size;

describe('install-trust slice (in-memory store and targets)', () => {
  let slice: OnboardingSlice;
  let trust: InstallTrustHandler;
  const applied = () => slice.targets.target('broker-a').trustApplied;
  const onboard = async (batchId: string, commandId = `onboard-${batchId}`) =>
    (await slice.get(OnboardDevicesHandler).onboardBatch({ commandId, batchId })).done;
  const certificateOf = (deviceId: string) =>
    slice.downlinks.filter((d) => d.kind === 'connection-parameters' && d.deviceId === deviceId).at(-1)?.body
      .clientCertificatePem as string | undefined;

  beforeEach(async () => {
    slice = await startOnboardingSlice();
    trust = slice.get(InstallTrustHandler);
    await slice.given.policy('p-1', ['broker-a']);
    await slice.given.batch('b-1', 'p-1', ['d-1']);
    await slice.given.certified('d-1');
    await slice.registerTarget('broker-a');
    await slice.registerTarget('broker-idle'); // no device is ever onboarded to it
    await onboard('b-1');
  });
  afterEach(() => slice.close());

  it("installs the target's own CA (nothing of the platform's), its CRL and the policy's rights, recorded once", async () => {
    expect(applied()).toHaveLength(1);
    const [installed] = applied();
    const authorityId = targetAuthorityId('broker-a');
    expect(installed!.anchors.map((a) => a.authorityId)).toEqual([authorityId]);
    const anchor = parseCertificate(installed!.anchors[0]!.chainPem[0]!);
    expect(anchor.subjectName).toBe(anchor.issuerName); // self-signed: a broker needs one in its cafile
    expect(anchor.basicConstraints).toMatchObject({ ca: true, pathLength: 0 });
    expect(installed!.crls).toEqual([expect.objectContaining({ authorityId, crlNumber: 1 })]);
    expect(listed(installed!.crls[0]!.crlPem)).toBe(0);
    expect(installed!.topicRights).toEqual([...rights].sort((a, b) => a.access.localeCompare(b.access)));
    expect((await slice.events('TargetTrustAnchorInstalled')).map((e) => e.data)).toEqual([
      expect.objectContaining({
        targetId: 'broker-a',
        authorityId,
        certificatePem: installed!.anchors[0]!.chainPem[0],
      }),
    ]);
    expect((await slice.events('TargetCrlUpdated')).map((e) => e.data)).toEqual([
      expect.objectContaining({ targetId: 'broker-a', authorityId, crlNumber: 1 }),
    ]);
    expect(slice.targets.target('broker-idle').trustApplied).toEqual([]);
  });

  it("gives the device a target certificate for its platform key, under the target's CA only", async () => {
    const pem = certificateOf('d-1')!;
    const anchorPem = applied()[0]!.anchors[0]!.chainPem[0]!;
    const { chain } = await verifyChain({ leaf: pem, root: anchorPem, at: now, purpose: 'clientAuth' });
    const leaf = chain[0]!;
    expect(leaf.subjectCommonName).toBe('d-1');
    expect(leaf.crlDistributionPoints).toBeUndefined();
    const platform = parseCertificate(slice.get(CertificatesView).device('d-1')!.certificate!.certificatePem);
    expect(spkiEqual(leaf.spki, platform.spki)).toBe(true);
    expect(leaf.notAfter.getTime()).toBeLessThanOrEqual(platform.notAfter.getTime());
    const [onboarded] = (await slice.events('DeviceOnboarded')).map((e) => e.data as Record<string, unknown>);
    expect(onboarded!.certificate).toMatchObject({
      authorityId: targetAuthorityId('broker-a'),
      serialNumber: leaf.serialHex.toLowerCase(),
    });
    // The platform's own certificate does not verify under the target's CA.
    await expect(verifyChain({ leaf: platform, root: anchorPem, at: now, purpose: 'clientAuth' })).rejects.toThrow();
  });

  it('refreshTrust: a revoked device goes on the CRL of every target it is on, which records the CA CRL it enforces', async () => {
    await slice.given.revoked('d-1', 'rev-1');
    await slice.given.crl(2);
    await expect(
      trust.refreshTrust({ authorityId: 'issuing-acme', crlNumber: 2, commandId: 'crl-2' }),
    ).resolves.toEqual(['broker-a']);
    expect(applied()).toHaveLength(2);
    expect(applied()[1]!.crls[0]!.crlNumber).toBe(2);
    expect(lists(applied()[1]!.crls[0]!.crlPem, certificateOf('d-1')!)).toBe(true);
    expect(listed(applied()[1]!.crls[0]!.crlPem)).toBe(1);
    const updates = (await slice.events('TargetCrlUpdated')).map((e) => e.data);
    expect(updates).toEqual([
      expect.objectContaining({ authorityId: targetAuthorityId('broker-a'), crlNumber: 1 }),
      expect.objectContaining({ authorityId: targetAuthorityId('broker-a'), crlNumber: 2 }),
      expect.objectContaining({ targetId: 'broker-a', authorityId: 'issuing-acme', crlNumber: 2 }),
    ]);

    // A later CA CRL with nothing new: no reload, only the record that it is enforced.
    await slice.given.crl(3);
    await trust.refreshTrust({ authorityId: 'issuing-acme', crlNumber: 3, commandId: 'crl-3' });
    expect(applied()).toHaveLength(2);
    expect((await slice.events('TargetCrlUpdated')).at(-1)?.data).toMatchObject({
      authorityId: 'issuing-acme',
      crlNumber: 3,
    });
    await trust.refreshTrust({ authorityId: 'issuing-acme', crlNumber: 3, commandId: 'crl-3-again' });
    expect(await slice.events('TargetCrlUpdated')).toHaveLength(4);
  });

  it('onboarded again, a device keeps its certificate; after a deprovisioning it gets a new one, the old one stays listed', async () => {
    const first = certificateOf('d-1')!;
    await onboard('b-1', 'onboard-again');
    expect(certificateOf('d-1')).toBe(first);
    expect(applied()).toHaveLength(1);

    await slice.get(DeprovisionDevicesHandler).handle({ deviceIds: ['d-1'], reason: 'operator', commandId: 'cut-1' });
    await trust.ensureTrust('broker-a', { commandId: 'after-cut', now: now.toISOString() });
    expect(lists(applied().at(-1)!.crls[0]!.crlPem, first)).toBe(true);

    await onboard('b-1', 'onboard-after-cut');
    const second = certificateOf('d-1')!;
    expect(second).not.toBe(first);
    const crlPem = applied().at(-1)!.crls[0]!.crlPem;
    expect([lists(crlPem, first), lists(crlPem, second), listed(crlPem)]).toEqual([true, false, 1]);
  });

  it("the CRL refresh renews a target's CRL past half its lifetime, and only then", async () => {
    await slice.get(TargetCrlRefreshJob).refresh();
    expect(applied()).toHaveLength(1); // 7 days by default: fresh
    const shortLived = await startOnboardingSlice({ config: { targetCrlLifetimeMs: 60_000 } });
    try {
      await shortLived.onboardedBatch({ targetIds: ['broker-a'], deviceIds: ['d-1'] });
      // Issued a minute before the (fixed) clock with a minute's lifetime: past half of it.
      await shortLived.get(TargetCrlRefreshJob).refresh();
      const installed = shortLived.targets.target('broker-a').trustApplied;
      expect(installed.map((t) => t.crls[0]!.crlNumber)).toEqual([1, 2]);
    } finally {
      await shortLived.close();
    }
  });

  describe('fails closed: a target certificate only for a platform certificate that verifies under the pinned root', () => {
    const failures = async () =>
      (await slice.events('DeviceOnboardingFailed')).map((e) => e.data as { deviceId: string; reason: string });
    const onboardedIds = async () =>
      (await slice.events('DeviceOnboarded')).map((e) => (e.data as { deviceId: string }).deviceId);

    it('refuses a device of a self-signed "issuing CA"', async () => {
      const forged = await createTestRoot('issuing-evil issuing CA', now);
      await slice.given.batch('b-2', 'p-1', ['d-evil']);
      await slice.given.certified('d-evil', 'issuing-evil', undefined, [forged.root.pem]);
      await onboard('b-2');
      expect(await failures()).toEqual([expect.objectContaining({ deviceId: 'd-evil', reason: 'target-refused' })]);
      expect(await onboardedIds()).toEqual(['d-1']);
    });

    it('refuses a device whose chain goes to another root', async () => {
      const foreign = await createTestAuthority('issuing-foreign', { at: now });
      await slice.given.batch('b-2', 'p-1', ['d-foreign']);
      await slice.given.certified('d-foreign', 'issuing-foreign', undefined, foreign.chainPem);
      await onboard('b-2');
      expect(await failures()).toEqual([expect.objectContaining({ deviceId: 'd-foreign', reason: 'target-refused' })]);
      expect(await onboardedIds()).toEqual(['d-1']);
    });

    it('refuses a platform certificate that its chain did not sign (another key, same names)', async () => {
      const impostor = await createTestAuthority('issuing-acme', { root: slice.pki.root, at: now });
      await slice.given.batch('b-2', 'p-1', ['d-impostor']);
      // Certified by the impostor, but carrying the real authority's chain.
      await slice.given.certifiedBy(impostor, 'd-impostor', 'issuing-acme');
      await onboard('b-2');
      expect(await failures()).toEqual([expect.objectContaining({ deviceId: 'd-impostor', reason: 'target-refused' })]);
    });

    it("a forged chain seen first does not take the authority's place: leaves are checked under the one that verifies", async () => {
      const forged = await createTestRoot('issuing-late issuing CA', now);
      await slice.given.batch('b-2', 'p-1', ['d-forged-chain', 'd-real']);
      // Its leaf is the real authority's: only the chain it carries is forged.
      await slice.given.certified('d-forged-chain', 'issuing-late', undefined, [forged.root.pem]);
      await slice.given.certified('d-real', 'issuing-late');
      await onboard('b-2');
      expect(await onboardedIds()).toEqual(['d-1', 'd-forged-chain', 'd-real']);
      expect(await failures()).toEqual([]);
    });

    it("refuses a chain that is not the authority's AuthorityCreated certificate", async () => {
      const sibling = await createTestAuthority('issuing-sib', { root: slice.pki.root, at: now });
      await slice.given.authorityCreated('issuing-sib', sibling.issuing.pem);
      await slice.given.batch('b-2', 'p-1', ['d-sib']);
      await slice.given.certified('d-sib', 'issuing-sib'); // the slice's own issuing-sib, also under the root
      await onboard('b-2');
      expect(await failures()).toEqual([expect.objectContaining({ deviceId: 'd-sib', reason: 'target-refused' })]);
    });

    it('with no root pinned, onboards nothing, and /ready says why', async () => {
      const unpinned = await startOnboardingSlice({ config: { trustedRootSha256: undefined } });
      try {
        await unpinned.onboardedBatch({ targetIds: ['broker-a'], deviceIds: ['d-1'] });
        expect(await unpinned.events('DeviceOnboarded')).toEqual([]);
        expect((await unpinned.events('DeviceOnboardingFailed')).map((e) => e.data)).toEqual([
          expect.objectContaining({ deviceId: 'd-1', reason: 'target-refused' }),
        ]);
        expect(unpinned.downlinks).toEqual([]);
        expect(unpinned.app.get<ReadinessRegistry>(READINESS_CHECKS).failing()).toContain('trusted-root-pinned');
        expect(slice.app.get<ReadinessRegistry>(READINESS_CHECKS).failing()).not.toContain('trusted-root-pinned');
      } finally {
        await unpinned.close();
      }
    });
  });
});
