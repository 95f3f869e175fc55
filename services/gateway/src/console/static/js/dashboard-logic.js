// The fleet dashboard's pure logic: the gateway's `fleet` samples (live events) kept in order and
// turned into the charts' series. Unit-tested from console-logic.unit.spec.ts.
import { deviceStates } from './logic.js';

/**
 * @typedef {{ at: number, devices: number, counts: Record<string, number>, connected: number,
 *   certified: number, revoked: number, telemetryMessages: number }} FleetSample
 */

/** Samples a console keeps: as many as the gateway keeps. */
export const keptSamples = 900;

/**
 * The samples kept so far and those a `fleet` event brought, in time order, one per instant (a
 * reconnect sends the gateway's kept samples again), the newest `keep`.
 * @param {FleetSample[]} kept
 * @param {FleetSample[]} incoming
 * @param {number} [keep]
 * @returns {FleetSample[]}
 */
export function mergeSamples(kept, incoming, keep = keptSamples) {
  const byTime = new Map(kept.map((s) => [s.at, s]));
  for (const sample of incoming) if (Number.isFinite(sample?.at)) byTime.set(sample.at, sample);
  return [...byTime.values()].sort((a, b) => a.at - b.at).slice(-keep);
}

/**
 * Telemetry messages per second between each sample and the one before (none for the first, nor
 * where the total fell: the gateway restarted and counts again).
 * @param {FleetSample[]} samples
 * @returns {(number | null)[]}
 */
export function telemetryRates(samples) {
  return samples.map((s, i) => {
    const before = samples[i - 1];
    if (!before || s.at <= before.at || s.telemetryMessages < before.telemetryMessages) return null;
    return Math.round(((s.telemetryMessages - before.telemetryMessages) / (s.at - before.at)) * 1000 * 10) / 10;
  });
}

/**
 * The charts' data (uPlot's: x in seconds, then one array per series).
 * @param {FleetSample[]} samples
 */
export function dashboardSeries(samples) {
  const x = samples.map((s) => s.at / 1000);
  return {
    states: [x, ...deviceStates.map((state) => samples.map((s) => s.counts?.[state] ?? 0))],
    connected: [x, samples.map((s) => s.connected)],
    telemetry: [x, telemetryRates(samples)],
    lifecycle: [x, samples.map((s) => s.certified), samples.map((s) => s.revoked)],
  };
}

/**
 * The tiles above the charts: the latest numbers, and the latest telemetry rate.
 * @param {FleetSample[]} samples
 */
export function dashboardTiles(samples) {
  const last = samples.at(-1);
  const rate = telemetryRates(samples.slice(-2)).at(-1) ?? null;
  return {
    devices: last?.devices ?? 0,
    connected: last?.connected ?? 0,
    telemetryRate: rate,
    certified: last?.certified ?? 0,
    revoked: last?.revoked ?? 0,
  };
}
