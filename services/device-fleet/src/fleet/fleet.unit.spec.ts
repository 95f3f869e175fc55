import { deviceIdMatchesPublicKey } from '@tunnelkey/puf';
import { DeviceKeyUnavailableError } from '../errors.js';
import { createFleet } from './create-fleet.js';
import { planFaults } from './fault-plan.js';

describe('a fleet without a bus', () => {
  it('manufactures and enrols devices, with the faults asked for', async () => {
    const progress: number[] = [];
    const fleet = await createFleet({
      size: 40,
      seedBase: 'unit-fleet',
      faults: { offline: 0.05, tampered: 4 },
      onProgress: (p) => progress.push(p.done),
    });
    const ids = [...fleet.devices()].map((d) => d.deviceId);
    expect(new Set(ids).size).toBe(40);
    // Silicon is reproducible from the seed, identities are not: enrolment draws a fresh secret (code-offset).
    expect(progress.at(-1)).toBe(40);
    const stats = fleet.stats();
    expect(stats.faults).toEqual({ offline: 2, tamperedHelperData: 2, tamperedFirmware: 2 });
    expect(stats.byState.offline).toBe(2);
    expect(fleet.platformKeyPinned).toBe(false);
    const summary = await fleet.announce();
    expect(summary).toEqual({ announced: 36, offline: 2, failed: 2 });
    expect(fleet.stats().byState['key-failure']).toBe(2);
    expect(fleet.stats().messages.keyFailures).toBe(2);
  });

  it('writes an identity file in JSON and CSV whose ids match their keys', async () => {
    const fleet = await createFleet({
      size: 5,
      seedBase: 'unit-identity',
      faults: { tampered: 2, tamperMode: 'firmware' },
    });
    const rows = JSON.parse(fleet.identityFile('json')) as {
      deviceId: string;
      enrolmentPublicKey: string;
      metadata: Record<string, string>;
    }[];
    expect(rows).toHaveLength(5);
    for (const row of rows) {
      expect(deviceIdMatchesPublicKey(row.deviceId, Buffer.from(row.enrolmentPublicKey, 'base64'))).toBe(true);
      expect(row.metadata).toMatchObject({ firmwareVersion: '1.0.0', pufProfile: 'sram' });
    }
    // Tampered devices are listed with the released measurement; their running one differs.
    expect(new Set(rows.map((r) => r.metadata['firmwareMeasurement'])).size).toBe(1);
    const tampered = rows.filter((r) => fleet.faultOf(r.deviceId) === 'tampered-firmware');
    expect(tampered).toHaveLength(2);
    for (const r of tampered)
      expect(fleet.device(r.deviceId)!.flash.firmware.measurement).not.toBe(r.metadata['firmwareMeasurement']);
    const csv = fleet.identityFile('csv').trim().split('\n');
    expect(csv[0]).toBe('deviceId,enrolmentPublicKey,firmwareVersion,firmwareMeasurement,pufProfile');
    expect(csv.slice(1).map((l) => l.split(',')[0])).toEqual(rows.map((r) => r.deviceId));
  });

  it.each(['sram', 'tunnelling'] as const)(
    'its %s devices reproduce their keys at -40/+25/+125 C after 10 years',
    async (profile) => {
      const fleet = await createFleet({ size: 12, profile, seedBase: `unit-corners-${profile}` });
      for (const device of fleet.devices()) {
        const baseline = await device.withKeys(['enrolment', 'tls-0'], async (k) =>
          [...k.values()].map((p) => Buffer.from(p.publicKeySpki).toString('hex')),
        );
        expect(baseline[0]).toBe(Buffer.from(device.enrolmentPublicKey).toString('hex'));
        for (const temperatureC of [-40, 25, 125]) {
          device.conditions = { temperatureC, ageYears: 10 };
          const keys = await device.withKeys(['enrolment', 'tls-0'], async (k) =>
            [...k.values()].map((p) => Buffer.from(p.publicKeySpki).toString('hex')),
          );
          expect(keys).toEqual(baseline);
        }
      }
    },
  );

  it('a tampered-helper-data device fails with a typed error, never a different key', async () => {
    const fleet = await createFleet({
      size: 6,
      seedBase: 'unit-tamper',
      faults: { tampered: 3, tamperMode: 'helper-data' },
    });
    for (const device of fleet.devices()) {
      const outcome = await device
        .withKeys(['enrolment'], async (k) => Buffer.from(k.get('enrolment')!.publicKeySpki))
        .catch((e: unknown) => e);
      if (fleet.faultOf(device.deviceId)) expect(outcome).toBeInstanceOf(DeviceKeyUnavailableError);
      else expect(outcome).toEqual(Buffer.from(device.enrolmentPublicKey));
    }
  });
});

describe('fault plan', () => {
  it('is deterministic, exact and disjoint', () => {
    const a = planFaults(1000, 's', { offline: 0.01, tampered: 2 });
    expect([...a.values()].filter((f) => f === 'offline')).toHaveLength(10);
    expect(a.size).toBe(12);
    expect(planFaults(1000, 's', { offline: 0.01, tampered: 2 })).toEqual(a);
    expect(() => planFaults(10, 's', { offline: 2 })).toThrow(/offline/);
    expect(() => planFaults(10, 's', { tampered: 11 })).toThrow(/more faulty/);
  });
});
