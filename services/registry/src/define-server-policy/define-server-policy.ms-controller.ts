import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { DefineServerPolicy } from '@tunnelkey/contracts';
import { DefineServerPolicyHandler } from './define-server-policy.handler.js';

@Controller()
export class DefineServerPolicyMsController {
  constructor(private readonly handler: DefineServerPolicyHandler) {}

  @MessagePattern(DefineServerPolicy.subject())
  defineServerPolicy(@Payload() payload: unknown) {
    return this.handler.handle(payload);
  }
}
