// What the firmware and rollout pages compute, without the DOM (tested in rollout-logic.unit.spec.ts).

/**
 * The actions a rollout in this state accepts (the OTA service refuses the others as wrong-state).
 * @param {'running' | 'paused' | 'aborted' | 'completed' | undefined} status
 * @returns {{ pause: boolean, resume: boolean, abort: boolean }}
 */
export function rolloutActions(status) {
  return {
    pause: status === 'running',
    resume: status === 'paused',
    abort: status === 'running' || status === 'paused',
  };
}

/**
 * Waves as typed ("5, 25, 100"): cumulative percentages ending at 100, or an error saying what is wrong.
 * @param {string} text
 * @returns {{ waves: { percent: number }[] } | { error: string }}
 */
export function parseWaves(text) {
  const parts = text
    .split(/[\s,;%]+/)
    .filter(Boolean)
    .map((p) => Number(p));
  if (parts.length === 0 || parts.some((p) => !Number.isInteger(p) || p < 1 || p > 100))
    return { error: 'waves are whole percentages from 1 to 100, e.g. 5, 25, 100' };
  if (parts.some((p, i) => i > 0 && p <= parts[i - 1]))
    return { error: 'each wave must be larger than the one before' };
  if (parts.at(-1) !== 100) return { error: 'the last wave must be 100 %' };
  return { waves: parts.map((percent) => ({ percent })) };
}

/**
 * One line per wave: how far it is, in words and as a fraction of its size.
 * @param {{ wave: number, percent: number, size: number, offered: number, updated: number, failed: number, skipped: number, completed: boolean }} wave
 * @param {number} current the rollout's current wave
 */
export function waveLine(wave, current) {
  const done = wave.updated + wave.failed + wave.skipped;
  const state = wave.completed ? 'completed' : wave.wave === current ? 'in progress' : 'waiting';
  return {
    state,
    done,
    fraction: wave.size ? Math.min(1, done / wave.size) : wave.completed ? 1 : 0,
    text: `${done} of ${wave.size} done: ${wave.updated} updated, ${wave.failed} failed, ${wave.skipped} skipped, ${wave.offered - wave.updated - wave.failed} downloading`,
  };
}

/**
 * Devices that did not update, grouped by reason, largest group first.
 * @param {{ status: string, reason?: string }[]} devices
 * @returns {[string, number][]}
 */
export function reasonCounts(devices) {
  /** @type {Map<string, number>} */
  const counts = new Map();
  for (const d of devices)
    if (d.status === 'failed' || d.status === 'skipped') {
      const key = `${d.status}: ${d.reason ?? 'unknown'}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
}

/**
 * The SHA-256 of a file's bytes, hex (the upload declares it, the gateway and the OTA service check it).
 * @param {ArrayBuffer} bytes
 */
export async function sha256Hex(bytes) {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
