/**
 * PauseRollout, ResumeRollout, AbortRollout: the operator's hand on a rollout. Each is refused in
 * the wrong state (the rollout decider says which), writing nothing. Pausing stops new offers (the
 * devices offered already may still finish); resuming goes on where it stopped; aborting stops
 * every further offer for good.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { AbortRollout, CommandOf, PauseRollout, ResumeRollout } from '@tunnelkey/contracts';
import { metadataOf } from '@tunnelkey/eventstore';
import { RolloutDriverJob } from '../rollout-process/rollout-driver.job.js';
import { OtaWriter } from '../shared/ota-writer.js';
import { CLOCK, type Clock } from '../tokens.js';
import { RolloutProgressView } from '../views/rollout-progress.view.js';

type ControlCommand = CommandOf<typeof PauseRollout> | CommandOf<typeof ResumeRollout> | CommandOf<typeof AbortRollout>;

@Injectable()
export class ControlRolloutHandler {
  constructor(
    private readonly writer: OtaWriter,
    private readonly progress: RolloutProgressView,
    private readonly driver: RolloutDriverJob,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async handle(
    type: 'PauseRollout' | 'ResumeRollout' | 'AbortRollout',
    command: ControlCommand,
  ): Promise<{ rolloutId: string }> {
    const { rolloutId } = command;
    await this.writer.recordRollout(rolloutId, { type, data: {}, metadata: metadataOf(command, this.clock()) });
    await this.progress.catchUp();
    if (type === 'ResumeRollout') void this.driver.drive().catch(() => undefined);
    return { rolloutId };
  }
}
