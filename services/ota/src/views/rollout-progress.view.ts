/**
 * Query: where is each rollout? Its state (the rollout decider's own evolve over its events), and
 * per device and per wave what was offered, applied, failed and skipped, with the reasons. Folded
 * from the OTA log's rollouts and devices in a LiveView, checkpointed. The rollout process reads it
 * to decide the next step, so a restart resumes from the log: the devices it lists as offered are
 * never offered again, and the ones it does not list are still to come.
 */
import {
  DeviceUpdateApplied,
  DeviceUpdateFailed,
  DeviceUpdateOffered,
  DeviceUpdateSkipped,
  type DataOf,
  type EventEnvelope,
} from '@tunnelkey/contracts';
import { LiveView, type EventStore } from '@tunnelkey/eventstore';
import { InMemoryView } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { rolloutDecider, type ActiveRollout, type RolloutEvent } from '../deciders/rollout.decider.js';

type D<E> = DataOf<E>;

export interface DeviceInRollout {
  status: 'offered' | 'updated' | 'failed' | 'skipped';
  wave?: number;
  reason?: string;
  /** While offered: when the boot report is due. */
  deadline?: string;
}

export interface WaveTally {
  offered: number;
  updated: number;
  failed: number;
  skipped: number;
}

export interface RolloutProgress {
  rollout: ActiveRollout;
  devices: Map<string, DeviceInRollout>;
  /** Per wave: the devices it picked (offered or skipped) and their outcomes. */
  waves: WaveTally[];
}

export type RolloutProgressState = Map<string, RolloutProgress>;

const tallyOf = (progress: RolloutProgress, wave: number | undefined): WaveTally | undefined => {
  if (wave === undefined) return undefined;
  while (progress.waves.length <= wave) progress.waves.push({ offered: 0, updated: 0, failed: 0, skipped: 0 });
  return progress.waves[wave];
};

export function foldRolloutProgress(state: RolloutProgressState, event: EventEnvelope): void {
  if (event.type.startsWith('Rollout')) {
    const rolloutId = (event.data as { rolloutId: string }).rolloutId;
    const known = state.get(rolloutId);
    const next = rolloutDecider.evolve(known?.rollout ?? { status: 'None' }, event as RolloutEvent);
    if (next.status === 'None') return;
    if (known) known.rollout = next;
    else state.set(rolloutId, { rollout: next, devices: new Map(), waves: [] });
    return;
  }
  switch (event.type) {
    case DeviceUpdateOffered.type: {
      const { rolloutId, deviceId, wave, deadline } = event.data as D<typeof DeviceUpdateOffered>;
      const progress = state.get(rolloutId);
      if (!progress || progress.devices.has(deviceId)) return;
      progress.devices.set(deviceId, { status: 'offered', wave, deadline });
      tallyOf(progress, wave)!.offered++;
      return;
    }
    case DeviceUpdateSkipped.type: {
      const { rolloutId, deviceId, wave, reason } = event.data as D<typeof DeviceUpdateSkipped>;
      const progress = state.get(rolloutId);
      if (!progress) return;
      const known = progress.devices.get(deviceId);
      if (known && known.status !== 'offered') return;
      const tally = tallyOf(progress, known?.wave ?? wave);
      if (tally) {
        // An offered device skipped (the rollout aborted) leaves the offered count for the skipped one.
        if (known) tally.offered--;
        tally.skipped++;
      }
      const inWave = known?.wave ?? wave;
      progress.devices.set(deviceId, { status: 'skipped', reason, ...(inWave !== undefined ? { wave: inWave } : {}) });
      return;
    }
    case DeviceUpdateApplied.type:
    case DeviceUpdateFailed.type: {
      const data = event.data as D<typeof DeviceUpdateApplied> | D<typeof DeviceUpdateFailed>;
      const progress = state.get(data.rolloutId);
      const known = progress?.devices.get(data.deviceId);
      if (!progress || known?.status !== 'offered') return;
      const tally = tallyOf(progress, known.wave)!;
      if (event.type === DeviceUpdateApplied.type) {
        tally.updated++;
        progress.devices.set(data.deviceId, {
          status: 'updated',
          ...(known.wave !== undefined ? { wave: known.wave } : {}),
        });
      } else {
        tally.failed++;
        const reason = (data as D<typeof DeviceUpdateFailed>).reason;
        progress.devices.set(data.deviceId, {
          status: 'failed',
          reason,
          ...(known.wave !== undefined ? { wave: known.wave } : {}),
        });
      }
      return;
    }
    default:
      return;
  }
}

export class RolloutProgressView extends InMemoryView<RolloutProgressState> {
  static readonly viewName = 'ota-rollout-progress';

  static async start(store: EventStore, logger?: Logger): Promise<RolloutProgressView> {
    const live = await LiveView.start<RolloutProgressState>(
      store,
      {
        name: RolloutProgressView.viewName,
        sources: [{ context: 'ota' }],
        initialState: () => new Map(),
        evolve: (state, { event }) => (foldRolloutProgress(state, event), state),
        checkpoint: { owner: 'ota', version: 1 },
      },
      logger ? { logger } : {},
    );
    return new RolloutProgressView(live);
  }

  get(rolloutId: string): RolloutProgress | undefined {
    return this.state.get(rolloutId);
  }

  /** Rollouts still running or paused. */
  active(): RolloutProgress[] {
    return [...this.state.values()].filter((p) => p.rollout.status === 'Running' || p.rollout.status === 'Paused');
  }
}
