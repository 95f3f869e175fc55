/** RevokeDevice / RevokeBatch over NATS request/reply; refusals become replies in messaging's one command filter. */
import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { RevokeBatch, RevokeDevice, type ResultOf } from '@tunnelkey/contracts';
import { RevokeDevicesHandler } from './revoke-devices.handler.js';

@Controller()
export class RevokeDevicesMsController {
  constructor(private readonly handler: RevokeDevicesHandler) {}

  @MessagePattern(RevokeDevice.subject())
  revokeDevice(@Payload() payload: unknown): Promise<ResultOf<typeof RevokeDevice>> {
    return this.handler.revokeDevice(payload);
  }

  @MessagePattern(RevokeBatch.subject())
  revokeBatch(@Payload() payload: unknown): Promise<ResultOf<typeof RevokeBatch>> {
    return this.handler.revokeBatch(payload);
  }
}
