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
