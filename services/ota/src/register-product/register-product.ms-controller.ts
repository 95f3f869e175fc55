/** RegisterFirmwareProduct on `cmd.ota.register-firmware-product` (errors become replies in messaging's one filter). */
import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { RegisterFirmwareProduct, type ResultOf } from '@tunnelkey/contracts';
import { RegisterProductHandler } from './register-product.handler.js';

@Controller()
export class RegisterProductMsController {
  constructor(private readonly handler: RegisterProductHandler) {}

  @MessagePattern(RegisterFirmwareProduct.subject())
  registerProduct(@Payload() payload: unknown): Promise<ResultOf<typeof RegisterFirmwareProduct>> {
    return this.handler.handle(RegisterFirmwareProduct.parse(payload));
  }
}
