import { Controller, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { CommandErrorFilter } from '@tunnelkey/messaging';
import { ImportIdentities } from '@tunnelkey/contracts';
import { ImportIdentitiesHandler } from './import-identities.handler.js';

// Controller-level: the global filter startService registers does not reach hybrid-app handlers (Nest 12).
@UseFilters(CommandErrorFilter)
@Controller()
export class ImportIdentitiesMsController {
  constructor(private readonly handler: ImportIdentitiesHandler) {}

  @MessagePattern(ImportIdentities.subject())
  importIdentities(@Payload() payload: unknown) {
    return this.handler.handle(payload);
  }
}
