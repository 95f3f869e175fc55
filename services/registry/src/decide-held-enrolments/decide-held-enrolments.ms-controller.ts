import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { DecideHeldEnrolments } from '@tunnelkey/contracts';
import { DecideHeldEnrolmentsHandler } from './decide-held-enrolments.handler.js';

@Controller()
export class DecideHeldEnrolmentsMsController {
  constructor(private readonly handler: DecideHeldEnrolmentsHandler) {}

  @MessagePattern(DecideHeldEnrolments.subject())
  decideHeldEnrolments(@Payload() payload: unknown) {
    return this.handler.handle(payload);
  }
}
