import { Controller, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { CommandErrorFilter } from '@tunnelkey/messaging';
import { RequestEnrolmentKeys } from '@tunnelkey/contracts';
import { RequestEnrolmentKeysHandler } from './request-enrolment-keys.handler.js';

// Controller-level: the global filter startService registers does not reach hybrid-app handlers (Nest 12).
@UseFilters(CommandErrorFilter)
@Controller()
export class RequestEnrolmentKeysMsController {
  constructor(private readonly handler: RequestEnrolmentKeysHandler) {}

  @MessagePattern(RequestEnrolmentKeys.subject())
  requestEnrolmentKeys(@Payload() payload: unknown) {
    return this.handler.handle(payload);
  }
}
