import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { RegisterOwnerKey } from '@tunnelkey/contracts';
import { RegisterOwnerKeyHandler } from './register-owner-key.handler.js';

@Controller()
export class RegisterOwnerKeyMsController {
  constructor(private readonly handler: RegisterOwnerKeyHandler) {}

  @MessagePattern(RegisterOwnerKey.subject())
  registerOwnerKey(@Payload() payload: unknown) {
    return this.handler.handle(payload);
  }
}
