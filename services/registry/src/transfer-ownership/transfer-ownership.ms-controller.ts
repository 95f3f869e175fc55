import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { TransferOwnership } from '@tunnelkey/contracts';
import { TransferOwnershipHandler } from './transfer-ownership.handler.js';

@Controller()
export class TransferOwnershipMsController {
  constructor(private readonly handler: TransferOwnershipHandler) {}

  @MessagePattern(TransferOwnership.subject())
  transferOwnership(@Payload() payload: unknown) {
    return this.handler.handle(payload);
  }
}
