import { createHash } from 'node:crypto';
import { InvalidFleetOptionError } from '../errors.js';

export type TamperMode = 'helper-data' | 'firmware' | 'mixed';

export interface FleetFaults {
  /** Fraction of devices that are offline (never answer), 0..1. */
  offline?: number;
  /** Number of tampered devices. */
  tampered?: number;
  /** What tampering does: corrupt helper data (keys fail), patch firmware (measurement changes), or alternate (default). */
  tamperMode?: TamperMode;
}

export type DeviceFault = 'offline' | 'tampered-helper-data' | 'tampered-firmware';

/** Which device index gets which fault: deterministic from the seed base, exact counts. */
export function planFaults(size: number, seedBase: string, faults: FleetFaults = {}): Map<number, DeviceFault> {
  const offline = faults.offline ?? 0;
  const tampered = faults.tampered ?? 0;
  if (!(offline >= 0 && offline <= 1))
    throw new InvalidFleetOptionError('offline must be a fraction in [0, 1]', { offline });
  if (!Number.isInteger(tampered) || tampered < 0)
    throw new InvalidFleetOptionError('tampered must be a non-negative integer', { tampered });
  const offlineCount = Math.round(offline * size);
  if (offlineCount + tampered > size)
    throw new InvalidFleetOptionError('more faulty devices than devices', { size, offlineCount, tampered });
  const score = (i: number) => createHash('sha256').update(`${seedBase}/faults/${i}`).digest().readUInt32BE(0);
  const order = Array.from({ length: size }, (_, i) => i).sort((a, b) => score(a) - score(b) || a - b);
  const plan = new Map<number, DeviceFault>();
  for (const i of order.slice(0, offlineCount)) plan.set(i, 'offline');
  const mode = faults.tamperMode ?? 'mixed';
  order.slice(offlineCount, offlineCount + tampered).forEach((i, n) => {
    const helper = mode === 'helper-data' || (mode === 'mixed' && n % 2 === 0);
    plan.set(i, helper ? 'tampered-helper-data' : 'tampered-firmware');
  });
  return plan;
}
