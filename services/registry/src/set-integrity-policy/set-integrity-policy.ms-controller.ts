import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { SetIntegrityPolicy } from '@tunnelkey/contracts';
import { SetIntegrityPolicyHandler } from './set-integrity-policy.handler.js';

@Controller()
export class SetIntegrityPolicyMsController {
  constructor(private readonly handler: SetIntegrityPolicyHandler) {}

  @MessagePattern(SetIntegrityPolicy.subject())
  setIntegrityPolicy(@Payload() payload: unknown) {
    return this.handler.handle(payload);
  }
}
