import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { RequestEnrolmentKeys } from '@tunnelkey/contracts';
import { RequestEnrolmentKeysHandler } from './request-enrolment-keys.handler.js';

@Controller()
export class RequestEnrolmentKeysMsController {
  constructor(private readonly handler: RequestEnrolmentKeysHandler) {}

  @MessagePattern(RequestEnrolmentKeys.subject())
  requestEnrolmentKeys(@Payload() payload: unknown) {
    return this.handler.handle(payload);
  }
}
