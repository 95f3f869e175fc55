/** DescribeRollout on `cmd.ota.describe-rollout`. */
import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { DescribeRollout, type ResultOf } from '@tunnelkey/contracts';
import { DescribeRolloutHandler } from './describe-rollout.handler.js';

@Controller()
export class DescribeRolloutMsController {
  constructor(private readonly handler: DescribeRolloutHandler) {}

  @MessagePattern(DescribeRollout.subject())
  describe(@Payload() payload: unknown): Promise<ResultOf<typeof DescribeRollout>> {
    return this.handler.handle(DescribeRollout.parse(payload));
  }
}
