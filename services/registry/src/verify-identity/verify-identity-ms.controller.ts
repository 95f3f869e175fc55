import { Controller, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { CommandErrorFilter } from '@tunnelkey/messaging';
import { VerifyIdentity } from '@tunnelkey/contracts';
import { VerifyIdentityHandler } from './verify-identity.handler.js';

// Controller-level: the global filter startService registers does not reach hybrid-app handlers (Nest 12).
@UseFilters(CommandErrorFilter)
@Controller()
export class VerifyIdentityMsController {
  constructor(private readonly handler: VerifyIdentityHandler) {}

  @MessagePattern(VerifyIdentity.subject())
  verifyIdentity(@Payload() payload: unknown) {
    return this.handler.handle(payload);
  }
}
