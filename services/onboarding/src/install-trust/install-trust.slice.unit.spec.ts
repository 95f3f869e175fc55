import { READINESS_CHECKS, type ReadinessRegistry } from '@tunnelkey/messaging';
import { TrustRefusedError } from '../errors.js';
import { OnboardDevicesHandler } from '../onboard-devices/onboard-devices.handler.js';
import { now, startOnboardingSlice, type OnboardingSlice } from '../test-support/onboarding-slice.test-helper.js';
import { createTestAuthority, createTestRoot, issueTestCrl } from '../test-support/test-pki.test-helper.js';
import { CertificatesView } from '../views/certificates.view.js';
import { InstallTrustHandler } from './install-trust.handler.js';

describe('install-trust slice (in-memory store and targets)', () => {
  let slice: OnboardingSlice;
  let trust: InstallTrustHandler;

  beforeEach(async () => {
    slice = await startOnboardingSlice();
    trust = slice.get(InstallTrustHandler);
    await slice.given.policy('p-1', ['broker-a']);
    await slice.given.batch('b-1', 'p-1', ['d-1']);
    await slice.given.certified('d-1');
    await slice.given.crl(1);
    await slice.registerTarget('broker-a');
    await slice.registerTarget('broker-idle'); // trusts nothing
    await (
      await slice.get(OnboardDevicesHandler).onboardBatch({ commandId: 'onboard-1', batchId: 'b-1' })
    ).done;
  });
  afterEach(() => slice.close());

  it('refreshTrust: every target trusting the authority enforces its newest CRL, recorded once', async () => {
    await slice.given.crl(2);
    await expect(trust.refreshTrust({ authorityId: 'issuing-acme', commandId: 'crl-2' })).resolves.toEqual([
      'broker-a',
    ]);
    const applied = slice.targets.target('broker-a').trustApplied;
    expect(applied.map((t) => t.crls.map((c) => c.crlNumber))).toEqual([[1], [2]]);
    expect(applied[1]!.crls[0]!.crlPem).toBe(await slice.pki.crlPem('issuing-acme', 2)); // fetched by its digest
    expect(slice.targets.target('broker-idle').trustApplied).toEqual([]);
    const updates = (await slice.events('TargetCrlUpdated')).map((e) => e.data);
    expect(updates).toEqual([
      expect.objectContaining({ crlNumber: 1 }),
      expect.objectContaining({ targetId: 'broker-a', crlNumber: 2 }),
    ]);

    // Nothing new: no reload, nothing recorded.
    await expect(trust.refreshTrust({ authorityId: 'issuing-acme', commandId: 'crl-2-again' })).resolves.toEqual([
      'broker-a',
    ]);
    expect(slice.targets.target('broker-a').trustApplied).toHaveLength(2);
    expect(await slice.events('TargetCrlUpdated')).toHaveLength(2);
  });

  it('takes a CRL handed in directly, newer than any published', async () => {
    const crl = { authorityId: 'issuing-acme', crlNumber: 7, crlPem: await slice.pki.crlPem('issuing-acme', 7) };
    await trust.refreshTrust({ authorityId: 'issuing-acme', crl, commandId: 'crl-7' });
    expect(slice.targets.target('broker-a').trustApplied.at(-1)?.crls).toEqual([crl]);
    expect((await slice.events('TargetCrlUpdated')).at(-1)?.data).toMatchObject({ targetId: 'broker-a', crlNumber: 7 });
  });

  it('ensureTrust adds an authority to what a target trusts, keeping the ones it has', async () => {
    await slice.given.certified('d-2', 'issuing-other');
    await slice.given.crl(1, 'issuing-other');
    await slice.get(CertificatesView).catchUp();
    await trust.ensureTrust('broker-a', ['issuing-other'], { commandId: 'add-other', now: '2026-11-27T10:00:00.000Z' });
    const last = slice.targets.target('broker-a').trustApplied.at(-1)!;
    expect(last.anchors.map((a) => a.authorityId)).toEqual(['issuing-acme', 'issuing-other']);
    const anchors = (await slice.events('TargetTrustAnchorInstalled')).map((e) => e.data);
    expect(anchors).toEqual([
      expect.objectContaining({ authorityId: 'issuing-acme' }),
      expect.objectContaining({ authorityId: 'issuing-other' }),
    ]);
  });

  describe('fails closed: only what verifies under the pinned root is installed', () => {
    const metadata = { commandId: 'add', now: now.toISOString() };
    const applied = () => slice.targets.target('broker-a').trustApplied;
    const anchorsRecorded = async () =>
      (await slice.events('TargetTrustAnchorInstalled')).map((e) => (e.data as { authorityId: string }).authorityId);

    it('installed the chain that verifies, as verified', async () => {
      const acme = await slice.pki.authority('issuing-acme');
      expect(applied()).toHaveLength(1);
      expect(applied()[0]!.anchors).toEqual([{ authorityId: 'issuing-acme', chainPem: acme.chainPem }]);
      expect((await slice.events('TargetTrustAnchorInstalled'))[0]!.data).toMatchObject({
        fingerprintSha256: acme.issuing.fingerprintSha256,
      });
    });

    it('refuses a self-signed "issuing CA": nothing applied, nothing recorded', async () => {
      const forged = await createTestRoot('issuing-evil issuing CA', now);
      await slice.given.certified('d-evil', 'issuing-evil', undefined, [forged.root.pem]);
      await slice.get(CertificatesView).catchUp();
      await expect(trust.ensureTrust('broker-a', ['issuing-evil'], metadata)).rejects.toThrow(TrustRefusedError);
      expect(applied()).toHaveLength(1);
      expect(await anchorsRecorded()).toEqual(['issuing-acme']);
    });

    it('refuses a chain to another root, and onboarding its devices fails (target-refused)', async () => {
      const foreign = await createTestAuthority('issuing-foreign', { at: now });
      await slice.given.batch('b-2', 'p-1', ['d-foreign']);
      await slice.given.certified('d-foreign', 'issuing-foreign', undefined, foreign.chainPem);
      await (
        await slice.get(OnboardDevicesHandler).onboardBatch({ commandId: 'onboard-2', batchId: 'b-2' })
      ).done;
      expect(applied()).toHaveLength(1);
      expect(await anchorsRecorded()).toEqual(['issuing-acme']);
      const failed = (await slice.events('DeviceOnboardingFailed')).map((e) => e.data);
      expect(failed).toEqual([expect.objectContaining({ deviceId: 'd-foreign', reason: 'target-refused' })]);
      expect(await slice.events('DeviceOnboarded')).toHaveLength(1); // d-1 only
    });

    it("a forged chain seen first does not take the authority's place: the one that verifies is installed", async () => {
      const fresh = await startOnboardingSlice();
      try {
        const forged = await createTestRoot('issuing-late issuing CA', now);
        await fresh.given.certified('d-forged', 'issuing-late', undefined, [forged.root.pem]);
        await fresh.given.certified('d-real', 'issuing-late');
        await fresh.given.crl(1, 'issuing-late');
        await fresh.registerTarget('broker-a');
        await fresh.get(CertificatesView).catchUp();
        await fresh.get(InstallTrustHandler).ensureTrust('broker-a', ['issuing-late'], metadata);
        const late = await fresh.pki.authority('issuing-late');
        expect(fresh.targets.target('broker-a').trustApplied.at(-1)!.anchors).toEqual([
          { authorityId: 'issuing-late', chainPem: late.chainPem },
        ]);
      } finally {
        await fresh.close();
      }
    });

    it("refuses a chain that is not the authority's AuthorityCreated certificate", async () => {
      const sibling = await createTestAuthority('issuing-sib', { root: slice.pki.root, at: now });
      await slice.given.authorityCreated('issuing-sib', sibling.issuing.pem);
      await slice.given.certified('d-sib', 'issuing-sib'); // the slice's own issuing-sib, also under the root
      await slice.get(CertificatesView).catchUp();
      await expect(trust.ensureTrust('broker-a', ['issuing-sib'], metadata)).rejects.toThrow(TrustRefusedError);
      expect(applied()).toHaveLength(1);
    });

    it('with no root pinned, installs nothing, onboards nothing, and /ready says why', async () => {
      const unpinned = await startOnboardingSlice({ config: { trustedRootSha256: undefined } });
      try {
        await unpinned.given.policy('p-1', ['broker-a']);
        await unpinned.given.batch('b-1', 'p-1', ['d-1']);
        await unpinned.given.certified('d-1');
        await unpinned.given.crl(1);
        await unpinned.registerTarget('broker-a');
        await (
          await unpinned.get(OnboardDevicesHandler).onboardBatch({ commandId: 'onboard-1', batchId: 'b-1' })
        ).done;
        expect(unpinned.targets.target('broker-a').trustApplied).toEqual([]);
        expect((await unpinned.events('DeviceOnboardingFailed')).map((e) => e.data)).toEqual([
          expect.objectContaining({ deviceId: 'd-1', reason: 'target-refused' }),
        ]);
        expect(unpinned.app.get<ReadinessRegistry>(READINESS_CHECKS).failing()).toContain('trusted-root-pinned');
        expect(slice.app.get<ReadinessRegistry>(READINESS_CHECKS).failing()).not.toContain('trusted-root-pinned');
      } finally {
        await unpinned.close();
      }
    });

    it('refuses a CRL another key signed under the same name: the previous CRL stays installed', async () => {
      const impostor = await createTestAuthority('issuing-acme', { root: slice.pki.root, at: now });
      await slice.given.crl(2, 'issuing-acme', (await issueTestCrl(impostor, [], { crlNumber: 2 })).crlPem);
      await trust.refreshTrust({ authorityId: 'issuing-acme', commandId: 'crl-2' });
      expect(applied()).toHaveLength(1);
      expect(applied()[0]!.crls.map((c) => c.crlNumber)).toEqual([1]);
      expect(await slice.events('TargetCrlUpdated')).toHaveLength(1);
    });

    it('refuses a published CRL whose own number is lower (a replayed CRL 1 announced as 3)', async () => {
      await slice.given.crl(3, 'issuing-acme', await slice.pki.crlPem('issuing-acme', 1));
      await trust.refreshTrust({ authorityId: 'issuing-acme', commandId: 'crl-3' });
      expect(applied()).toHaveLength(1);
      expect(await slice.events('TargetCrlUpdated')).toHaveLength(1);
    });

    it('refuses a handed-in CRL below the installed one, or another one of the same number; the same one is a no-op', async () => {
      const handed = async (crlNumber: number, crlPem?: string) => ({
        authorityId: 'issuing-acme',
        crlNumber,
        crlPem: crlPem ?? (await slice.pki.crlPem('issuing-acme', crlNumber)),
      });
      const seven = await handed(7);
      await trust.refreshTrust({ authorityId: 'issuing-acme', crl: seven, commandId: 'handed-7' });
      expect(applied()).toHaveLength(2);
      const acme = await slice.pki.authority('issuing-acme');
      const otherSeven = await handed(7, (await issueTestCrl(acme, [], { crlNumber: 7 })).crlPem);
      for (const crl of [seven, otherSeven, await handed(6)])
        await trust.refreshTrust({ authorityId: 'issuing-acme', crl, commandId: `handed-again-${crl.crlNumber}` });
      expect(applied()).toHaveLength(2);
      // The next change of the target's trust (another authority) still carries CRL 7, byte for byte.
      await slice.given.certified('d-2', 'issuing-other');
      await slice.given.crl(1, 'issuing-other');
      await slice.get(CertificatesView).catchUp();
      await trust.ensureTrust('broker-a', ['issuing-other'], metadata);
      expect(applied()).toHaveLength(3);
      expect(
        applied()
          .at(-1)!
          .crls.find((c) => c.authorityId === 'issuing-acme'),
      ).toEqual(seven);
      const updates = (await slice.events('TargetCrlUpdated')).map(
        (e) => e.data as { authorityId: string; crlNumber: number },
      );
      expect(updates.filter((u) => u.authorityId === 'issuing-acme').map((u) => u.crlNumber)).toEqual([1, 7]);
    });
  });
});
