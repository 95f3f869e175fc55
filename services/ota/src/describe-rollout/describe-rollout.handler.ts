/** DescribeRollout: a rollout's state (and why it paused), per wave and per device with reasons, from the view. */
import { Injectable } from '@nestjs/common';
import type { CommandOf, DescribeRollout, ResultOf } from '@tunnelkey/contracts';
import { OtaCommandRejected } from '../errors.js';
import { RolloutProgressView } from '../views/rollout-progress.view.js';

type Result = ResultOf<typeof DescribeRollout>;
type DeviceReason = NonNullable<Result['devices'][number]['reason']>;

@Injectable()
export class DescribeRolloutHandler {
  constructor(private readonly progress: RolloutProgressView) {}

  async handle(command: CommandOf<typeof DescribeRollout>): Promise<Result> {
    await this.progress.catchUp();
    const progress = this.progress.get(command.rolloutId);
    if (!progress)
      throw new OtaCommandRejected('unknown-rollout', `no rollout ${command.rolloutId}`, {
        rolloutId: command.rolloutId,
      });
    const { rollout } = progress;
    const { started } = rollout;
    const devices = [...progress.devices].map(([deviceId, d]) => ({
      deviceId,
      status: d.status,
      ...(d.wave !== undefined ? { wave: d.wave } : {}),
      ...(d.reason ? { reason: d.reason as DeviceReason } : {}),
    }));
    const count = (status: string) => devices.filter((d) => d.status === status).length;
    const waves = started.waves.flatMap((wave, index) => {
      if (index > rollout.wave || (index === rollout.wave && !rollout.waveStarted)) return [];
      const tally = progress.waves[index] ?? { offered: 0, updated: 0, failed: 0, skipped: 0 };
      const completed = index < rollout.wave || rollout.waveCompleted;
      return [{ wave: index, percent: wave.percent, size: rollout.sizes[index] ?? 0, ...tally, completed }];
    });
    return {
      rolloutId: started.rolloutId,
      firmwareId: started.firmwareId,
      version: started.version,
      status: rollout.status.toLowerCase() as Result['status'],
      ...(rollout.pause ? { pauseReason: rollout.pause.detail ?? rollout.pause.reason } : {}),
      wave: rollout.wave,
      deviceCount: started.deviceCount,
      updated: count('updated'),
      failed: count('failed'),
      skipped: count('skipped'),
      waves,
      devices: devices.slice(0, 10_000),
    };
  }
}
