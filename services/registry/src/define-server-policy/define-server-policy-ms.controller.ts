import { Controller, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { CommandErrorFilter } from '@tunnelkey/messaging';
import { DefineServerPolicy } from '@tunnelkey/contracts';
import { DefineServerPolicyHandler } from './define-server-policy.handler.js';

// Controller-level: the global filter startService registers does not reach hybrid-app handlers (Nest 12).
@UseFilters(CommandErrorFilter)
@Controller()
export class DefineServerPolicyMsController {
  constructor(private readonly handler: DefineServerPolicyHandler) {}

  @MessagePattern(DefineServerPolicy.subject())
  defineServerPolicy(@Payload() payload: unknown) {
    return this.handler.handle(payload);
  }
}
