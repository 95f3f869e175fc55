import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { ImportIdentities } from '@tunnelkey/contracts';
import { ImportIdentitiesHandler } from './import-identities.handler.js';

@Controller()
export class ImportIdentitiesMsController {
  constructor(private readonly handler: ImportIdentitiesHandler) {}

  @MessagePattern(ImportIdentities.subject())
  importIdentities(@Payload() payload: unknown) {
    return this.handler.handle(payload);
  }
}
