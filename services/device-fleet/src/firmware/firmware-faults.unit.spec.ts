import { InvalidFleetOptionError } from '../errors.js';
import { createFleet } from '../fleet/create-fleet.js';
import { planFaults } from '../fleet/fault-plan.js';
import { firmwareFaults, planFirmwareFaults } from './firmware-faults.js';
import { factorySlots, trialBoot, writeInactive } from './firmware-slots.js';

describe('OTA fault plan', () => {
  it('gives exact counts, one fault per device, never to a device already offline or tampered', () => {
    const taken = new Set(planFaults(100, 'plan', { offline: 0.1, tampered: 4 }).keys());
    const plan = planFirmwareFaults(100, 'plan', { 'tampered-chunk': 3, 'failing-boot': 2, rollback: 1 }, taken);
    expect(plan.size).toBe(6);
    expect([...plan.values()].filter((f) => f === 'tampered-chunk')).toHaveLength(3);
    for (const index of plan.keys()) expect(taken.has(index)).toBe(false);
    expect(planFirmwareFaults(100, 'plan', { 'tampered-chunk': 3, 'failing-boot': 2, rollback: 1 }, taken)).toEqual(
      plan,
    );
  });

  it('refuses impossible plans with a typed error', () => {
    expect(() => planFirmwareFaults(3, 'p', { rollback: 4 })).toThrow(InvalidFleetOptionError);
    expect(() => planFirmwareFaults(3, 'p', { rollback: -1 })).toThrow(InvalidFleetOptionError);
  });

  it('a fleet switches the planned faults on in its devices and says which device has which', async () => {
    const counts = Object.fromEntries(firmwareFaults.map((f) => [f, 1]));
    const fleet = await createFleet({
      size: 10,
      seedBase: 'unit-ota-faults',
      firmwareFaults: counts,
      product: 'oven-z1',
    });
    const faulty = [...fleet.devices()].filter((d) => fleet.firmwareFaultOf(d.deviceId));
    expect(faulty).toHaveLength(firmwareFaults.length);
    for (const device of faulty) expect([...device.firmware.faults]).toEqual([fleet.firmwareFaultOf(device.deviceId)]);
    expect([...fleet.devices()].every((d) => d.flash.product === 'oven-z1')).toBe(true);
    await fleet.stop();
  });
});

describe('A/B slots', () => {
  const v1 = { version: '1.0.0', measurement: 'a'.repeat(64) };
  const v2 = { version: '2.0.0', measurement: 'b'.repeat(64) };

  it('boot the written slot when its boot check passes', () => {
    const { slots, outcome } = trialBoot(writeInactive(factorySlots(v1), v2), true);
    expect(outcome).toBe('booted');
    expect(slots).toEqual({ active: 'b', a: v1, b: v2, bootCount: 2 });
    // The next update goes to A, the now inactive slot.
    expect(writeInactive(slots, v1)).toMatchObject({ active: 'b', a: v1 });
  });

  it('fall back to the old slot when the boot check fails (two boots)', () => {
    const { slots, outcome } = trialBoot(writeInactive(factorySlots(v1), v2), false);
    expect(outcome).toBe('rolled-back');
    expect(slots).toEqual({ active: 'a', a: v1, b: v2, bootCount: 3 });
  });

  it('never boot an empty slot', () => {
    expect(trialBoot(factorySlots(v1), true)).toEqual({ slots: factorySlots(v1), outcome: 'rolled-back' });
  });
});
