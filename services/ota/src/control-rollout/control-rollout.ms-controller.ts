/** PauseRollout, ResumeRollout and AbortRollout on `cmd.ota.<command>` (errors become replies in messaging's one filter). */
import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { AbortRollout, PauseRollout, ResumeRollout, type ResultOf } from '@tunnelkey/contracts';
import { ControlRolloutHandler } from './control-rollout.handler.js';

@Controller()
export class ControlRolloutMsController {
  constructor(private readonly handler: ControlRolloutHandler) {}

  @MessagePattern(PauseRollout.subject())
  pause(@Payload() payload: unknown): Promise<ResultOf<typeof PauseRollout>> {
    return this.handler.handle('PauseRollout', PauseRollout.parse(payload));
  }

  @MessagePattern(ResumeRollout.subject())
  resume(@Payload() payload: unknown): Promise<ResultOf<typeof ResumeRollout>> {
    return this.handler.handle('ResumeRollout', ResumeRollout.parse(payload));
  }

  @MessagePattern(AbortRollout.subject())
  abort(@Payload() payload: unknown): Promise<ResultOf<typeof AbortRollout>> {
    return this.handler.handle('AbortRollout', AbortRollout.parse(payload));
  }
}
