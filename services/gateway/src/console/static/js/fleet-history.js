// The fleet's samples the gateway streams (`fleet` live events), kept for the whole session so the
// dashboard draws the recent past as soon as it opens, whichever page was open when they came.
import { mergeSamples } from './dashboard-logic.js';

/** @type {import('./dashboard-logic.js').FleetSample[]} */
let samples = [];
/** @type {Set<(samples: import('./dashboard-logic.js').FleetSample[]) => void>} */
const listeners = new Set();

export const fleetHistory = {
  /** The samples so far, oldest first. */
  get samples() {
    return samples;
  },
  /** A live-stream listener: takes the `fleet` events. @param {string} type @param {any} data */
  onLive(type, data) {
    if (type !== 'fleet' || !Array.isArray(data?.samples)) return;
    samples = mergeSamples(samples, data.samples);
    for (const listener of listeners) listener(samples);
  },
  /** @param {(samples: import('./dashboard-logic.js').FleetSample[]) => void} listener @returns {() => void} */
  subscribe(listener) {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};
