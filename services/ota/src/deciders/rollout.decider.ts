/**
 * One rollout (`ota.rollout.<rolloutId>`): started over batches in cumulative waves; each wave
 * started and completed in turn; a wave whose failure share exceeds maxFailurePercent pauses the
 * rollout, saying why; the operator pauses, resumes and aborts, each refused in the wrong state.
 * Which devices a wave offers and what they answer live on the devices' streams (device-update
 * decider); the rollout process (rollout-process/next-step.ts) turns them into these commands.
 */
import {
  RolloutAborted,
  RolloutCompleted,
  RolloutPaused,
  RolloutResumed,
  RolloutStarted,
  RolloutWaveCompleted,
  RolloutWaveStarted,
  type DataOf,
  type EventOf,
} from '@tunnelkey/contracts';
import { CommandRejected, type Command, type Decider, type NewEvent } from '@tunnelkey/eventstore';

export type RolloutStartedData = DataOf<typeof RolloutStarted>;
export type WaveCounts = Omit<DataOf<typeof RolloutWaveCompleted>, 'rolloutId'>;

export type RolloutEvent =
  | EventOf<typeof RolloutStarted>
  | EventOf<typeof RolloutWaveStarted>
  | EventOf<typeof RolloutWaveCompleted>
  | EventOf<typeof RolloutPaused>
  | EventOf<typeof RolloutResumed>
  | EventOf<typeof RolloutAborted>
  | EventOf<typeof RolloutCompleted>;

export type RolloutCommand =
  | Command<'StartRollout', RolloutStartedData>
  | Command<'StartWave', { wave: number; size: number }>
  | Command<'CompleteWave', WaveCounts>
  | Command<'CompleteRollout', Record<string, never>>
  | Command<'PauseRollout', Record<string, never>>
  | Command<'ResumeRollout', Record<string, never>>
  | Command<'AbortRollout', Record<string, never>>;

export interface Totals {
  updated: number;
  failed: number;
  skipped: number;
}

export interface ActiveRollout {
  status: 'Running' | 'Paused' | 'Aborted' | 'Completed';
  started: RolloutStartedData;
  /** The current wave (0 before the first starts). */
  wave: number;
  waveStarted: boolean;
  waveCompleted: boolean;
  /** Devices per wave, as each wave started. */
  sizes: number[];
  totals: Totals;
  pause?: { reason: 'operator' | 'failure-threshold'; detail?: string };
}

export type RolloutState = { status: 'None' } | ActiveRollout;

export const rolloutStream = (rolloutId: string) => ({ context: 'ota' as const, aggregate: 'rollout', id: rolloutId });

/** Cumulative device count at the end of wave `wave`: ceil(percent x deviceCount / 100). */
export function waveTarget(started: Pick<RolloutStartedData, 'waves' | 'deviceCount'>, wave: number): number {
  const percent = started.waves[wave]?.percent ?? 100;
  return Math.ceil((percent * started.deviceCount) / 100);
}

/** Refuses waves that are not cumulative (strictly increasing, ending at 100 %). */
export function checkWaves(waves: readonly { percent: number }[]): void {
  const increasing = waves.every((w, i) => i === 0 || w.percent > waves[i - 1]!.percent);
  if (!increasing || waves.at(-1)?.percent !== 100)
    throw new CommandRejected('invalid-waves', 'waves must be cumulative percentages, increasing, the last 100');
}

/** True when the wave's failures exceed the threshold (of the devices that answered or timed out). */
export function crossesThreshold(counts: Pick<WaveCounts, 'updated' | 'failed'>, maxFailurePercent: number): boolean {
  const decided = counts.updated + counts.failed;
  return decided > 0 && counts.failed * 100 > maxFailurePercent * decided;
}

const active = (state: RolloutState, action: string): ActiveRollout => {
  if (state.status === 'None') throw new CommandRejected('unknown-rollout', `no such rollout to ${action}`);
  return state;
};

export const rolloutDecider: Decider<RolloutCommand, RolloutEvent, RolloutState> = {
  initialState: () => ({ status: 'None' }),

  decide(command, state): NewEvent<RolloutEvent>[] {
    switch (command.type) {
      case 'StartRollout': {
        const data = command.data;
        if (state.status !== 'None') {
          if (state.started.firmwareId === data.firmwareId) return [];
          throw new CommandRejected('rollout-exists', `rollout ${data.rolloutId} exists for another image`);
        }
        checkWaves(data.waves);
        if (data.deviceCount === 0)
          throw new CommandRejected('no-eligible-devices', 'none of the batches has a device that can be offered it');
        return [{ type: 'RolloutStarted', version: 1, data }];
      }
      case 'StartWave': {
        const rollout = active(state, 'start a wave of');
        const { wave, size } = command.data;
        const next = rollout.waveStarted ? rollout.wave + 1 : rollout.wave;
        if (rollout.status !== 'Running') return [];
        if (wave < next || (wave === rollout.wave && rollout.waveStarted)) return [];
        if (wave !== next || (rollout.waveStarted && !rollout.waveCompleted) || wave >= rollout.started.waves.length)
          throw new CommandRejected('wave-out-of-order', `wave ${wave} cannot start now`);
        const percent = rollout.started.waves[wave]!.percent;
        const { rolloutId } = rollout.started;
        return [{ type: 'RolloutWaveStarted', version: 1, data: { rolloutId, wave, percent, size } }];
      }
      case 'CompleteWave': {
        const rollout = active(state, 'complete a wave of');
        const counts = command.data;
        if (counts.wave !== rollout.wave || !rollout.waveStarted || rollout.waveCompleted) return [];
        if (rollout.status === 'Aborted' || rollout.status === 'Completed') return [];
        const { rolloutId, maxFailurePercent } = rollout.started;
        const events: NewEvent<RolloutEvent>[] = [
          { type: 'RolloutWaveCompleted', version: 1, data: { rolloutId, ...counts } },
        ];
        if (rollout.status === 'Running' && crossesThreshold(counts, maxFailurePercent)) {
          const decided = counts.updated + counts.failed;
          const share = Math.round((counts.failed * 100) / decided);
          events.push({
            type: 'RolloutPaused',
            version: 1,
            data: {
              rolloutId,
              reason: 'failure-threshold',
              wave: counts.wave,
              updated: rollout.totals.updated + counts.updated,
              failed: rollout.totals.failed + counts.failed,
              detail:
                `wave ${counts.wave}: ${counts.failed} of ${decided} devices failed ` +
                `(${share} % > ${maxFailurePercent} %)`,
            },
          });
        }
        return events;
      }
      case 'CompleteRollout': {
        const rollout = active(state, 'complete');
        const last = rollout.wave === rollout.started.waves.length - 1;
        if (rollout.status !== 'Running' || !last || !rollout.waveCompleted) return [];
        const { rolloutId } = rollout.started;
        const { updated, failed, skipped } = rollout.totals;
        // Skipped counts the devices excluded at the start too.
        const data = { rolloutId, updated, failed, skipped: skipped + rollout.started.excluded };
        return [{ type: 'RolloutCompleted', version: 1, data }];
      }
      case 'PauseRollout': {
        const rollout = active(state, 'pause');
        if (rollout.status !== 'Running')
          throw new CommandRejected('not-running', `rollout is ${rollout.status.toLowerCase()}, not running`);
        const { rolloutId } = rollout.started;
        const { updated, failed } = rollout.totals;
        const data = { rolloutId, reason: 'operator' as const, wave: rollout.wave, updated, failed };
        return [{ type: 'RolloutPaused', version: 1, data }];
      }
      case 'ResumeRollout': {
        const rollout = active(state, 'resume');
        if (rollout.status !== 'Paused')
          throw new CommandRejected('not-paused', `rollout is ${rollout.status.toLowerCase()}, not paused`);
        const { rolloutId } = rollout.started;
        return [{ type: 'RolloutResumed', version: 1, data: { rolloutId, wave: rollout.wave } }];
      }
      case 'AbortRollout': {
        const rollout = active(state, 'abort');
        if (rollout.status !== 'Running' && rollout.status !== 'Paused')
          throw new CommandRejected('not-active', `rollout is ${rollout.status.toLowerCase()}: nothing to abort`);
        const { rolloutId } = rollout.started;
        const { updated, failed } = rollout.totals;
        return [{ type: 'RolloutAborted', version: 1, data: { rolloutId, wave: rollout.wave, updated, failed } }];
      }
      default: {
        const unknown: never = command;
        throw new CommandRejected('unknown-command', `unknown command ${(unknown as Command).type}`);
      }
    }
  },

  evolve(state, event): RolloutState {
    if (event.type === 'RolloutStarted')
      return state.status === 'None'
        ? {
            status: 'Running',
            started: event.data,
            wave: 0,
            waveStarted: false,
            waveCompleted: false,
            sizes: [],
            totals: { updated: 0, failed: 0, skipped: 0 },
          }
        : state;
    if (state.status === 'None') return state;
    switch (event.type) {
      case 'RolloutWaveStarted':
        return {
          ...state,
          wave: event.data.wave,
          waveStarted: true,
          waveCompleted: false,
          sizes: [...state.sizes, event.data.size],
        };
      case 'RolloutWaveCompleted': {
        const { updated, failed, skipped } = event.data;
        const totals = {
          updated: state.totals.updated + updated,
          failed: state.totals.failed + failed,
          skipped: state.totals.skipped + skipped,
        };
        return { ...state, waveCompleted: true, totals };
      }
      case 'RolloutPaused': {
        const { reason, detail } = event.data;
        return { ...state, status: 'Paused', pause: { reason, ...(detail ? { detail } : {}) } };
      }
      case 'RolloutResumed': {
        const { pause: _pause, ...rest } = state;
        return { ...rest, status: 'Running' };
      }
      case 'RolloutAborted':
        return { ...state, status: 'Aborted' };
      case 'RolloutCompleted':
        return { ...state, status: 'Completed' };
      default:
        return state;
    }
  },
};
