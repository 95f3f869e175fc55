import { OnboardDevicesHandler } from '../onboard-devices/onboard-devices.handler.js';
import { crlPemOf, startOnboardingSlice, type OnboardingSlice } from '../test-support/onboarding-slice.test-helper.js';
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
    expect(applied[1]!.crls[0]!.crlPem).toBe(crlPemOf('issuing-acme', 2)); // fetched by its digest
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
    const crl = { authorityId: 'issuing-acme', crlNumber: 7, crlPem: crlPemOf('issuing-acme', 7) };
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
});
