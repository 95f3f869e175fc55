/** RenewCertificates and GetRenewalProgress over NATS request/reply (errors become replies in messaging's one filter). */
import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { GetRenewalProgress, RenewCertificates, type ResultOf } from '@tunnelkey/contracts';
import { CaCommandRejected } from '../errors.js';
import { RenewalsView } from '../views/renewals.view.js';
import { RenewCertificatesHandler } from './renew-certificates.handler.js';

@Controller()
export class RenewCertificatesMsController {
  constructor(
    private readonly handler: RenewCertificatesHandler,
    private readonly renewals: RenewalsView,
  ) {}

  @MessagePattern(RenewCertificates.subject())
  renewCertificates(@Payload() payload: unknown): Promise<ResultOf<typeof RenewCertificates>> {
    return this.handler.handle(RenewCertificates.parse(payload));
  }

  @MessagePattern(GetRenewalProgress.subject())
  async renewalProgress(@Payload() payload: unknown): Promise<ResultOf<typeof GetRenewalProgress>> {
    const { operationId } = GetRenewalProgress.parse(payload);
    await this.renewals.catchUp();
    const counts = this.renewals.operation(operationId);
    if (!counts) throw new CaCommandRejected('unknown-operation', 'no renewal operation with this id', { operationId });
    return { operationId, ...counts };
  }
}
