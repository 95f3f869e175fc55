import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { SetRenewalPolicy } from '@tunnelkey/contracts';
import { SetRenewalPolicyHandler } from './set-renewal-policy.handler.js';

@Controller()
export class SetRenewalPolicyMsController {
  constructor(private readonly handler: SetRenewalPolicyHandler) {}

  @MessagePattern(SetRenewalPolicy.subject())
  setRenewalPolicy(@Payload() payload: unknown) {
    return this.handler.handle(payload);
  }
}
