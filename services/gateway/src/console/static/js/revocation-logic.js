// How far a revocation the operator started is, from what the live events show of its devices or
// its batch. Pure; unit-tested from console-logic.unit.spec.ts.
import { formatCount } from './logic.js';

/**
 * @typedef {{ total: number, revoked: number, connected: number, refused: number, percent: number, done: boolean }} RevocationProgress
 */

/**
 * @param {number} total devices the revocation covers
 * @param {number} revoked of those, recorded revoked (the saga's last step: certificates, CRL, targets done)
 * @param {number} connected of those, still connected to a target
 * @param {number} refused devices whose command was refused (not counted in `total`)
 * @returns {RevocationProgress}
 */
function progress(total, revoked, connected, refused) {
  return {
    total,
    revoked,
    connected,
    refused,
    percent: total ? Math.floor((revoked / total) * 100) : 100,
    done: revoked >= total && connected === 0,
  };
}

/**
 * Selected devices: each as the console last saw it (a live `device` event or a read of the list).
 * @param {string[]} deviceIds the devices whose revocation was accepted
 * @param {Map<string, { state: string, connection: string }>} seen
 * @param {number} [refused] devices whose revocation was refused
 * @returns {RevocationProgress}
 */
export function devicesRevocationProgress(deviceIds, seen, refused = 0) {
  let revoked = 0;
  let connected = 0;
  for (const id of deviceIds) {
    const device = seen.get(id);
    if (device?.state === 'Revoked') revoked++;
    if (device?.connection === 'connected') connected++;
  }
  return progress(deviceIds.length, revoked, connected, refused);
}

/**
 * A whole batch, from its live progress (counts per state, connected devices).
 * @param {{ devices: number, connected: number, counts: Record<string, number> }} batch
 * @returns {RevocationProgress}
 */
export function batchRevocationProgress(batch) {
  return progress(batch.devices ?? 0, batch.counts?.Revoked ?? 0, batch.connected ?? 0, 0);
}

/**
 * `12 of 20 revoked · 3 still connected`, or `All 20 revoked and cut off`.
 * @param {RevocationProgress} p
 */
export function revocationLabel(p) {
  const refused = p.refused ? ` · ${formatCount(p.refused)} refused` : '';
  if (p.done) return `All ${formatCount(p.total)} revoked and cut off${refused}`;
  const connected = p.connected ? ` · ${formatCount(p.connected)} still connected` : '';
  return `${formatCount(p.revoked)} of ${formatCount(p.total)} revoked${connected}${refused}`;
}
