import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { VerifyIdentity } from '@tunnelkey/contracts';
import { VerifyIdentityHandler } from './verify-identity.handler.js';

@Controller()
export class VerifyIdentityMsController {
  constructor(private readonly handler: VerifyIdentityHandler) {}

  @MessagePattern(VerifyIdentity.subject())
  verifyIdentity(@Payload() payload: unknown) {
    return this.handler.handle(payload);
  }
}
