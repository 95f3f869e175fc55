import { DeviceQuarantined, DeviceQuarantineReleased } from '@tunnelkey/contracts';
import { givenEvent, waitFor } from '@tunnelkey/testing';
import { startOnboardingSlice, type OnboardingSlice } from '../test-support/onboarding-slice.test-helper.js';
import { QuarantineDevicesHandler } from './quarantine-devices.handler.js';

describe('quarantine-devices slice: the reaction to the registry quarantining a device (in-memory store and targets)', () => {
  let slice: OnboardingSlice;
  const enforced = async () => (await slice.events('DeviceQuarantineEnforced')).map((e) => e.data);

  beforeEach(async () => {
    slice = await startOnboardingSlice();
    await slice.onboardedBatch({ targetIds: ['broker-a', 'broker-b'], deviceIds: ['d-1', 'd-2'], crl: 1 });
  });
  afterEach(() => slice.close());

  it('on DeviceQuarantined, every target the device is onboarded to restricts it, recorded per target; a release lifts it', async () => {
    await givenEvent(slice.store, DeviceQuarantined, 'd-1', { deviceId: 'd-1', violationId: 'v-1' });
    await waitFor(async () => (await enforced()).length === 2, { description: 'enforced on both targets' });
    expect(await enforced()).toEqual([
      { deviceId: 'd-1', targetId: expect.stringMatching(/^broker-[ab]$/), quarantined: true },
      { deviceId: 'd-1', targetId: expect.stringMatching(/^broker-[ab]$/), quarantined: true },
    ]);
    for (const targetId of ['broker-a', 'broker-b']) {
      expect([...slice.targets.target(targetId).quarantined]).toEqual(['d-1']);
      // Restricted, not cut off: the session stays.
      expect(slice.targets.target(targetId).devices.get('d-1')?.enabled).toBe(true);
    }
    await givenEvent(slice.store, DeviceQuarantineReleased, 'd-1', { deviceId: 'd-1', releasedBy: 'alice' });
    await waitFor(async () => (await enforced()).length === 4, { description: 'released on both targets' });
    for (const targetId of ['broker-a', 'broker-b']) expect(slice.targets.target(targetId).quarantined.size).toBe(0);
  });

  it('records a target that could not apply it and throws, so the reaction retries; a retry writes nothing twice', async () => {
    const handler = slice.get(QuarantineDevicesHandler);
    slice.targets.target('broker-b').unreachable = true;
    await expect(handler.handle({ deviceId: 'd-2', quarantined: true, eventId: 'e-1' })).rejects.toThrow(
      /not applied on 1 target/,
    );
    expect((await enforced()).filter((d) => (d as { failed?: string }).failed)).toHaveLength(1);
    slice.targets.target('broker-b').unreachable = false;
    await handler.handle({ deviceId: 'd-2', quarantined: true, eventId: 'e-1' });
    await handler.handle({ deviceId: 'd-2', quarantined: true, eventId: 'e-1' });
    expect((await enforced()).filter((d) => !(d as { failed?: string }).failed)).toHaveLength(2);
  });
});
