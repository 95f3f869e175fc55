/** RegisterTarget on `cmd.onboarding.register-target` (errors become replies in messaging's one filter). */
import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { RegisterTarget, type ResultOf } from '@tunnelkey/contracts';
import { RegisterTargetHandler } from './register-target.handler.js';

@Controller()
export class RegisterTargetMsController {
  constructor(private readonly handler: RegisterTargetHandler) {}

  @MessagePattern(RegisterTarget.subject())
  registerTarget(@Payload() payload: unknown): Promise<ResultOf<typeof RegisterTarget>> {
    return this.handler.handle(RegisterTarget.parse(payload));
  }
}
