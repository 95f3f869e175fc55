/** RegisterFirmware on `cmd.ota.register-firmware` (errors become replies in messaging's one filter). */
import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { RegisterFirmware, type ResultOf } from '@tunnelkey/contracts';
import { RegisterFirmwareHandler } from './register-firmware.handler.js';

@Controller()
export class RegisterFirmwareMsController {
  constructor(private readonly handler: RegisterFirmwareHandler) {}

  @MessagePattern(RegisterFirmware.subject())
  registerFirmware(@Payload() payload: unknown): Promise<ResultOf<typeof RegisterFirmware>> {
    return this.handler.handle(RegisterFirmware.parse(payload));
  }
}
