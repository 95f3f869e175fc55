import { startOnboardingSlice, type OnboardingSlice } from '../test-support/onboarding-slice.test-helper.js';
import { DeprovisionDevicesHandler } from './deprovision-devices.handler.js';

describe('deprovision-devices slice (in-memory store and targets)', () => {
  let slice: OnboardingSlice;
  let handler: DeprovisionDevicesHandler;

  beforeEach(async () => {
    slice = await startOnboardingSlice();
    handler = slice.get(DeprovisionDevicesHandler);
    await slice.onboardedBatch({ targetIds: ['broker-a', 'broker-b'], deviceIds: ['d-1', 'd-2'] });
  });
  afterEach(() => slice.close());

  it('disables the devices on every target they are onboarded to and records it once', async () => {
    const input = { deviceIds: ['d-1'], reason: 'revoked' as const, revocationId: 'rv-1', commandId: 'revoke-1' };
    await expect(handler.handle(input)).resolves.toEqual({ deprovisioned: 2, failed: 0 });
    for (const targetId of ['broker-a', 'broker-b']) {
      expect(slice.targets.target(targetId).devices.get('d-1')?.enabled).toBe(false);
      expect(slice.targets.target(targetId).devices.get('d-2')?.enabled).toBe(true);
    }
    const recorded = (await slice.events('DeviceDeprovisioned')).map((e) => e.data);
    expect(recorded).toEqual(
      ['broker-a', 'broker-b'].map((targetId) => ({
        deviceId: 'd-1',
        targetId,
        reason: 'revoked',
        revocationId: 'rv-1',
      })),
    );

    await expect(handler.handle({ ...input, commandId: 'revoke-1-again' })).resolves.toEqual({
      deprovisioned: 0,
      failed: 0,
    });
    expect(await slice.events('DeviceDeprovisioned')).toHaveLength(2);
  });

  it('counts what an unreachable target could not do, and records only what was done', async () => {
    slice.targets.target('broker-b').unreachable = true;
    await expect(handler.handle({ deviceIds: ['d-1', 'd-2'], reason: 'operator', commandId: 'off' })).resolves.toEqual({
      deprovisioned: 2,
      failed: 2,
    });
    const recorded = (await slice.events('DeviceDeprovisioned')).map((e) => e.data as { targetId: string });
    expect(recorded.map((d) => d.targetId)).toEqual(['broker-a', 'broker-a']);
  });
});
