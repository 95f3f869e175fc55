import { Controller, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { CommandErrorFilter } from '@tunnelkey/messaging';
import { CreateBatch } from '@tunnelkey/contracts';
import { CreateBatchHandler } from './create-batch.handler.js';

// Controller-level: the global filter startService registers does not reach hybrid-app handlers (Nest 12).
@UseFilters(CommandErrorFilter)
@Controller()
export class CreateBatchMsController {
  constructor(private readonly handler: CreateBatchHandler) {}

  @MessagePattern(CreateBatch.subject())
  createBatch(@Payload() payload: unknown) {
    return this.handler.handle(payload);
  }
}
