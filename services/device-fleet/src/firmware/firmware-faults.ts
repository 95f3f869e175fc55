import { createHash } from 'node:crypto';
import { InvalidFleetOptionError } from '../errors.js';

/**
 * Fault injection for over-the-air updates, one switch per way an update must fail safely:
 * - `tampered-chunk`: the second chunk (or the only one) arrives with a flipped byte every time it
 *   is delivered: its tag fails, the device asks again, then gives up with `decrypt`;
 * - `tampered-chunk-once`: the same, only on its first delivery: the device recovers by asking again;
 * - `bad-ecdsa-signature` / `bad-ml-dsa-signature`: the offered metadata arrives with that
 *   signature altered: refused, `signature`;
 * - `rollback`: the offer is judged as if the offered version were already installed (an attacker
 *   re-offering the running or an older release): refused, `rollback`;
 * - `expired-metadata`: the offer arrives after its metadata expired (a freeze attack replaying
 *   old, validly signed metadata): refused, `expired`;
 * - `offline-mid-download`: the device drops off the network halfway through the download for a
 *   while, then resumes from its first unverified chunk;
 * - `failing-boot`: the new image fails its boot check: the device falls back to its old slot and
 *   reports `boot-failed` with the old measurement.
 */
export const firmwareFaults = [
  'tampered-chunk',
  'tampered-chunk-once',
  'bad-ecdsa-signature',
  'bad-ml-dsa-signature',
  'rollback',
  'expired-metadata',
  'offline-mid-download',
  'failing-boot',
] as const;

export type FirmwareFault = (typeof firmwareFaults)[number];

export const isFirmwareFault = (value: string): value is FirmwareFault =>
  (firmwareFaults as readonly string[]).includes(value);

/** How many devices get each firmware fault. */
export type FirmwareFaultCounts = Partial<Record<FirmwareFault, number>>;

/**
 * Which device index gets which firmware fault: exact counts, one fault per device, never a device
 * `taken` already (offline or tampered), deterministic from the seed base.
 */
export function planFirmwareFaults(
  size: number,
  seedBase: string,
  counts: FirmwareFaultCounts = {},
  taken: ReadonlySet<number> = new Set(),
): Map<number, FirmwareFault> {
  const wanted = firmwareFaults.flatMap((fault) => {
    const n = counts[fault] ?? 0;
    if (!Number.isInteger(n) || n < 0)
      throw new InvalidFleetOptionError('firmware fault counts must be non-negative integers', { fault, count: n });
    return Array.from({ length: n }, () => fault);
  });
  const score = (i: number) => createHash('sha256').update(`${seedBase}/firmware-faults/${i}`).digest().readUInt32BE(0);
  const free = Array.from({ length: size }, (_, i) => i)
    .filter((i) => !taken.has(i))
    .sort((a, b) => score(a) - score(b) || a - b);
  if (wanted.length > free.length)
    throw new InvalidFleetOptionError('more firmware faults than devices free of other faults', {
      faults: wanted.length,
      free: free.length,
    });
  return new Map(wanted.map((fault, n) => [free[n]!, fault]));
}
