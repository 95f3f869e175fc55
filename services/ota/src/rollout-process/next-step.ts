/**
 * The rollout process, pure: from a rollout's progress (the log, through the rollout-progress
 * view), the devices of its batches and the time, the steps that move it on. Replayed after a
 * restart it gives the same steps: the devices the log lists are never picked again, the others
 * are still to come, so no device is offered twice and none is forgotten.
 *
 * - A wave starts with size = its cumulative target minus the earlier ones'.
 * - While running, a wave picks devices not yet in the rollout, in plan order, until it has its
 *   size: each is offered, or skipped with the reason it cannot be (revoked, not certified,
 *   offline, no firmware keys). A paused rollout picks none.
 * - A wave is complete once it has its size (or no device is left) and every device it offered has
 *   an outcome; then the next wave starts, or the rollout completes after the last.
 * - An offer past its deadline without a boot report times out, whatever the rollout's state.
 */
import { waveTarget } from '../deciders/rollout.decider.js';
import { ineligibility, type FleetDevice, type Ineligibility } from '../views/fleet.view.js';
import type { RolloutProgress } from '../views/rollout-progress.view.js';

export type RolloutStep =
  | { kind: 'start-wave'; wave: number; size: number }
  | { kind: 'offer'; deviceId: string; wave: number }
  | { kind: 'skip'; deviceId: string; wave: number; reason: Ineligibility }
  | { kind: 'complete-wave'; wave: number; updated: number; failed: number; skipped: number }
  | { kind: 'complete-rollout' }
  | { kind: 'timeout'; deviceId: string };

/** Devices of wave `wave`: its cumulative target minus the previous wave's. */
export function waveSize(progress: RolloutProgress, wave: number): number {
  const { started } = progress.rollout;
  return waveTarget(started, wave) - (wave === 0 ? 0 : waveTarget(started, wave - 1));
}

export function nextSteps(progress: RolloutProgress, plan: readonly FleetDevice[], now: number): RolloutStep[] {
  const steps: RolloutStep[] = [];
  for (const [deviceId, device] of progress.devices)
    if (device.status === 'offered' && device.deadline && Date.parse(device.deadline) <= now)
      steps.push({ kind: 'timeout', deviceId });
  const rollout = progress.rollout;
  if (rollout.status !== 'Running' && rollout.status !== 'Paused') return steps;
  const running = rollout.status === 'Running';
  const wave = rollout.wave;
  if (!rollout.waveStarted) {
    if (running) steps.push({ kind: 'start-wave', wave, size: waveSize(progress, wave) });
    return steps;
  }
  if (rollout.waveCompleted) {
    if (!running) return steps;
    const last = wave === rollout.started.waves.length - 1;
    steps.push(
      last ? { kind: 'complete-rollout' } : { kind: 'start-wave', wave: wave + 1, size: waveSize(progress, wave + 1) },
    );
    return steps;
  }
  const size = rollout.sizes[wave] ?? 0;
  const tally = progress.waves[wave] ?? { offered: 0, updated: 0, failed: 0, skipped: 0 };
  let picked = tally.offered + tally.skipped;
  let left = 0;
  for (const device of plan) {
    if (progress.devices.has(device.deviceId)) continue;
    if (!running || picked >= size) {
      left++;
      continue;
    }
    const reason = ineligibility(device);
    steps.push(
      reason
        ? { kind: 'skip', deviceId: device.deviceId, wave, reason }
        : { kind: 'offer', deviceId: device.deviceId, wave },
    );
    picked++;
  }
  const pickedAll = picked >= size || left === 0;
  const picksNow = steps.some((s) => s.kind === 'offer' || s.kind === 'skip');
  const answered = tally.updated + tally.failed === tally.offered;
  if (pickedAll && !picksNow && answered)
    steps.push({ kind: 'complete-wave', wave, updated: tally.updated, failed: tally.failed, skipped: tally.skipped });
  return steps;
}
