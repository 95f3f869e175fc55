import { findRevocation, parseCrl, pemBlocks } from '@tunnelkey/pki';
import { waitFor } from '@tunnelkey/testing';
import { startOnboardingSlice, type OnboardingSlice } from '../test-support/onboarding-slice.test-helper.js';

const devices = ['d-1', 'd-2', 'd-3', 'd-4'];
const targets = ['broker-a', 'broker-b'];

describe('revocation-requests slice: the reaction to RevocationRequested, ahead of the CA (in-memory store and targets)', () => {
  let slice: OnboardingSlice;

  beforeEach(async () => {
    slice = await startOnboardingSlice();
    await slice.onboardedBatch({ targetIds: targets, deviceIds: devices, crl: 1 });
  });
  afterEach(() => slice.close());

  /** The serial of the device's target certificate on that target. */
  const serialOn = async (deviceId: string, targetId: string) => {
    const onboarded = (await slice.events('DeviceOnboarded')).find(
      (e) =>
        (e.data as { deviceId: string }).deviceId === deviceId &&
        (e.data as { targetId: string }).targetId === targetId,
    );
    return (onboarded!.data as { certificate: { serialNumber: string } }).certificate.serialNumber;
  };
  const installedCrlLists = async (targetId: string, deviceId: string) => {
    const crlPem = slice.targets.target(targetId).trustApplied.at(-1)!.crls[0]!.crlPem;
    return findRevocation(parseCrl(pemBlocks(crlPem)[0]!.der), await serialOn(deviceId, targetId)) !== undefined;
  };
  const deprovisioned = (count: number) =>
    waitFor(
      async () => {
        const recorded = await slice.events('DeviceDeprovisioned');
        return recorded.length === count ? recorded : undefined;
      },
      { description: `${count} DeviceDeprovisioned`, timeoutMs: 10_000 },
    );

  it('cuts the requested devices off every target before the CA revoked anything: listed on its CRL, then dropped', async () => {
    await slice.given.revocationRequested('rv-1', ['d-1']);
    const recorded = await deprovisioned(2);
    expect(recorded.map((e) => e.data)).toEqual(
      expect.arrayContaining(
        targets.map((targetId) => ({ deviceId: 'd-1', targetId, reason: 'revoked', revocationId: 'rv-1' })),
      ),
    );
    expect(await slice.events('CertificateRevoked')).toEqual([]);
    for (const targetId of targets) {
      const target = slice.targets.target(targetId);
      expect(target.calls.lastIndexOf('applyTrust')).toBeLessThan(target.calls.indexOf('disableDevices'));
      expect(await installedCrlLists(targetId, 'd-1')).toBe(true);
      expect(await installedCrlLists(targetId, 'd-2')).toBe(false);
      expect(target.devices.get('d-1')?.enabled).toBe(false);
      expect(target.devices.get('d-2')?.enabled).toBe(true);
    }
  });

  it('takes the requests queued behind the delivered one along: one CRL reload per target for all of them', async () => {
    for (const targetId of targets) slice.targets.target(targetId).unreachable = true;
    await slice.given.revocationRequested('rv-1', ['d-1']);
    await slice.given.revocationRequested('rv-2', ['d-2']);
    await slice.given.revocationRequested('rv-3', ['d-3']);
    const reloadsBefore = targets.map((targetId) => slice.targets.target(targetId).trustApplied.length);
    for (const targetId of targets) slice.targets.target(targetId).unreachable = false;
    const recorded = await deprovisioned(6);
    expect(recorded.map((e) => (e.data as { revocationId: string }).revocationId).sort()).toEqual([
      'rv-1',
      'rv-1',
      'rv-2',
      'rv-2',
      'rv-3',
      'rv-3',
    ]);
    for (const [i, targetId] of targets.entries()) {
      expect(slice.targets.target(targetId).trustApplied.length - reloadsBefore[i]!).toBe(1);
      for (const deviceId of ['d-1', 'd-2', 'd-3']) expect(await installedCrlLists(targetId, deviceId)).toBe(true);
      expect(slice.targets.target(targetId).devices.get('d-4')?.enabled).toBe(true);
    }
  });

  it('leaves nothing for the CA CRL that follows but recording that the targets enforce it', async () => {
    await slice.given.revocationRequested('rv-1', ['d-1']);
    await deprovisioned(2);
    const disables = targets.map(
      (targetId) => slice.targets.target(targetId).calls.filter((c) => c === 'disableDevices').length,
    );
    await slice.given.revoked('d-1', 'rv-1');
    await slice.given.crl(2);
    await waitFor(
      async () =>
        (await slice.events('TargetCrlUpdated')).filter((e) => (e.data as { crlNumber: number }).crlNumber === 2)
          .length >= targets.length,
      { description: 'CA CRL 2 enforced on both targets', timeoutMs: 10_000 },
    );
    expect(await slice.events('DeviceDeprovisioned')).toHaveLength(2);
    for (const [i, targetId] of targets.entries())
      expect(slice.targets.target(targetId).calls.filter((c) => c === 'disableDevices')).toHaveLength(disables[i]!);
  });
});
