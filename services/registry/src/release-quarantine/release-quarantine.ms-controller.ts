import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { ReleaseQuarantine } from '@tunnelkey/contracts';
import { ReleaseQuarantineHandler } from './release-quarantine.handler.js';

@Controller()
export class ReleaseQuarantineMsController {
  constructor(private readonly handler: ReleaseQuarantineHandler) {}

  @MessagePattern(ReleaseQuarantine.subject())
  releaseQuarantine(@Payload() payload: unknown) {
    return this.handler.handle(payload);
  }
}
