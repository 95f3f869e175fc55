/** Operator commands of the CA over NATS request/reply (errors become replies in messaging's one filter). */
import { Controller, Inject } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { CertifyDevices, CreateIssuingAuthority, type ResultOf } from '@tunnelkey/contracts';
import { CaRuntime } from './ca-runtime.js';
import { CA_RUNTIME } from './tokens.js';

@Controller()
export class CaMsController {
  constructor(@Inject(CA_RUNTIME) private readonly ca: CaRuntime) {}

  @MessagePattern(CertifyDevices.subject())
  certifyDevices(@Payload() payload: unknown): Promise<ResultOf<typeof CertifyDevices>> {
    return this.ca.certifyDevices(CertifyDevices.parse(payload));
  }

  @MessagePattern(CreateIssuingAuthority.subject())
  async createIssuingAuthority(@Payload() payload: unknown): Promise<ResultOf<typeof CreateIssuingAuthority>> {
    const command = CreateIssuingAuthority.parse(payload);
    const authority = await this.ca.authority.issuingFor(command.ownerId);
    return { authorityId: authority.authorityId, certificatePem: authority.certificatePem, fingerprintSha256: authority.fingerprintSha256 };
  }
}
