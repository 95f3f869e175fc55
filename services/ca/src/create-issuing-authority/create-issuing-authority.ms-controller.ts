/** CreateIssuingAuthority over NATS request/reply (errors become replies in messaging's one filter). */
import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { CreateIssuingAuthority, type ResultOf } from '@tunnelkey/contracts';
import { CreateIssuingAuthorityHandler } from './create-issuing-authority.handler.js';

@Controller()
export class CreateIssuingAuthorityMsController {
  constructor(private readonly handler: CreateIssuingAuthorityHandler) {}

  @MessagePattern(CreateIssuingAuthority.subject())
  createIssuingAuthority(@Payload() payload: unknown): Promise<ResultOf<typeof CreateIssuingAuthority>> {
    return this.handler.handle(CreateIssuingAuthority.parse(payload));
  }
}
