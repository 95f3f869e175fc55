import { waitFor } from '@tunnelkey/testing';
import { startOnboardingSlice, type OnboardingSlice } from '../test-support/onboarding-slice.test-helper.js';
import { RevokeDeviceHandler } from './revoke-device.handler.js';

describe('revoke-device slice: the reaction to the CA publishing a CRL (in-memory store and targets)', () => {
  let slice: OnboardingSlice;

  beforeEach(async () => {
    slice = await startOnboardingSlice();
    await slice.onboardedBatch({ targetIds: ['broker-a', 'broker-b'], deviceIds: ['d-1', 'd-2', 'd-3'], crl: 1 });
  });
  afterEach(() => slice.close());

  it('on CrlPublished, every target enforces the new CRL first, then the devices it lists are disabled', async () => {
    await slice.given.revoked('d-1', 'rv-1');
    const published = await slice.given.crl(2);
    const events = await waitFor(
      async () => {
        const all = await slice.events();
        return all.filter((e) => e.type === 'DeviceDeprovisioned').length === 2 ? all : undefined;
      },
      { description: 'd-1 deprovisioned on both targets', timeoutMs: 10_000 },
    );
    const position = (type: string, where: (d: Record<string, unknown>) => boolean) =>
      events.findIndex((e) => e.type === type && where(e.data as Record<string, unknown>));
    for (const targetId of ['broker-a', 'broker-b']) {
      const enforced = position('TargetCrlUpdated', (d) => d.targetId === targetId && d.crlNumber === 2);
      const cutOff = position('DeviceDeprovisioned', (d) => d.targetId === targetId);
      expect(enforced).toBeGreaterThanOrEqual(0);
      expect(cutOff).toBeGreaterThan(enforced);
      expect(slice.targets.target(targetId).devices.get('d-1')?.enabled).toBe(false);
      expect(slice.targets.target(targetId).devices.get('d-2')?.enabled).toBe(true);
    }
    const deprovisioned = events.filter((e) => e.type === 'DeviceDeprovisioned');
    expect(deprovisioned.map((e) => e.data)).toEqual(
      ['broker-a', 'broker-b'].map((targetId) => ({
        deviceId: 'd-1',
        targetId,
        reason: 'revoked',
        revocationId: 'rv-1',
      })),
    );
    expect(deprovisioned.every((e) => e.correlationId === `deprovision-${published.id}-rv-1`)).toBe(true);
  });

  it('leaves a revoked device alone while no CRL lists it (dropped, it would reconnect at once)', async () => {
    const handler = slice.get(RevokeDeviceHandler);
    await slice.given.revoked('d-2', 'rv-2'); // after CRL 1: only a later CRL lists it
    await expect(
      handler.handle({ eventId: 'crl-1-again', authorityId: 'issuing-acme', crlNumber: 1 }),
    ).resolves.toMatchObject({
      targets: ['broker-a', 'broker-b'],
      enforcedCrlNumber: 1,
      devicesDeprovisioned: 0,
    });
    expect(await slice.events('DeviceDeprovisioned')).toEqual([]);
    expect(slice.targets.target('broker-a').devices.get('d-2')?.enabled).toBe(true);
  });

  it('is redelivered while a target cannot be reached, and completes once it can', async () => {
    slice.targets.target('broker-b').unreachable = true;
    await slice.given.revoked('d-3', 'rv-3');
    await slice.given.crl(2);
    const crlUpdated = (targetId: string) => async () =>
      (await slice.events('TargetCrlUpdated')).some(
        (e) =>
          (e.data as { targetId: string; crlNumber: number }).targetId === targetId &&
          (e.data as { crlNumber: number }).crlNumber === 2,
      );
    await waitFor(crlUpdated('broker-a'), { description: 'CRL 2 enforced on the reachable target', timeoutMs: 10_000 });
    // The unreachable target does not enforce it yet: nobody is dropped (they would reconnect there).
    expect(await slice.events('DeviceDeprovisioned')).toEqual([]);
    slice.targets.target('broker-b').unreachable = false;
    const recorded = await waitFor(
      async () => {
        const deprovisioned = await slice.events('DeviceDeprovisioned');
        return deprovisioned.length === 2 ? deprovisioned : undefined;
      },
      { description: 'd-3 deprovisioned on both targets after a redelivery', timeoutMs: 10_000 },
    );
    expect(recorded.map((e) => e.data)).toEqual(
      expect.arrayContaining(
        ['broker-a', 'broker-b'].map((targetId) => ({
          deviceId: 'd-3',
          targetId,
          reason: 'revoked',
          revocationId: 'rv-3',
        })),
      ),
    );
  });
});
