/** CertifyDevices over NATS request/reply (errors become replies in messaging's one filter). */
import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { CertifyDevices, type ResultOf } from '@tunnelkey/contracts';
import { CertifyDevicesHandler } from './certify-devices.handler.js';

@Controller()
export class CertifyDevicesMsController {
  constructor(private readonly handler: CertifyDevicesHandler) {}

  @MessagePattern(CertifyDevices.subject())
  certifyDevices(@Payload() payload: unknown): Promise<ResultOf<typeof CertifyDevices>> {
    return this.handler.handle(CertifyDevices.parse(payload));
  }
}
