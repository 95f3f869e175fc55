import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { CreateBatch } from '@tunnelkey/contracts';
import { CreateBatchHandler } from './create-batch.handler.js';

@Controller()
export class CreateBatchMsController {
  constructor(private readonly handler: CreateBatchHandler) {}

  @MessagePattern(CreateBatch.subject())
  createBatch(@Payload() payload: unknown) {
    return this.handler.handle(payload);
  }
}
