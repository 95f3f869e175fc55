import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { RegisterManufacturerKey } from '@tunnelkey/contracts';
import { RegisterManufacturerKeyHandler } from './register-manufacturer-key.handler.js';

@Controller()
export class RegisterManufacturerKeyMsController {
  constructor(private readonly handler: RegisterManufacturerKeyHandler) {}

  @MessagePattern(RegisterManufacturerKey.subject())
  registerManufacturerKey(@Payload() payload: unknown) {
    return this.handler.handle(payload);
  }
}
