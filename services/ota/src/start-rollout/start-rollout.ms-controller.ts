/** StartRollout on `cmd.ota.start-rollout` (errors become replies in messaging's one filter). */
import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { StartRollout, type ResultOf } from '@tunnelkey/contracts';
import { StartRolloutHandler } from './start-rollout.handler.js';

@Controller()
export class StartRolloutMsController {
  constructor(private readonly handler: StartRolloutHandler) {}

  @MessagePattern(StartRollout.subject())
  startRollout(@Payload() payload: unknown): Promise<ResultOf<typeof StartRollout>> {
    return this.handler.handle(StartRollout.parse(payload));
  }
}
