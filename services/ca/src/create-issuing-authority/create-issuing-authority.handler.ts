/**
 * CreateIssuingAuthority: the owner's issuing CA as the ceremony signed it. The service cannot sign
 * one (the root key is offline): an owner without one is refused, naming the ceremony step.
 */
import { Injectable } from '@nestjs/common';
import type { CommandOf, CreateIssuingAuthority, ResultOf } from '@tunnelkey/contracts';
import { CertificateAuthority } from '../authority/certificate-authority.js';

@Injectable()
export class CreateIssuingAuthorityHandler {
  constructor(private readonly authority: CertificateAuthority) {}

  async handle(command: CommandOf<typeof CreateIssuingAuthority>): Promise<ResultOf<typeof CreateIssuingAuthority>> {
    const { authorityId, certificatePem, fingerprintSha256 } = await this.authority.issuingFor(command.ownerId);
    return { authorityId, certificatePem, fingerprintSha256 };
  }
}
