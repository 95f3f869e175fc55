/** Operator commands and queries of the revocation service over NATS request/reply (errors become replies in messaging's one filter). */
import { Controller, Inject, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { isAggregateId, RevokeBatch, RevokeDevice, type ResultOf } from '@tunnelkey/contracts';
import { CommandErrorFilter } from '@tunnelkey/messaging';
import { notFound, refused } from './errors.js';
import { RevocationRuntime } from './revocation-runtime.js';
import type { DeviceRevocationView, RevocationView } from './revocation-status/revocation-status.view.js';
import { REVOCATION_RUNTIME } from './tokens.js';

/** Query subjects (under the namespace, like commands): the gateway's read models may take over later. */
export const revocationQuerySubjects = {
  revocation: 'query.revocation.revocation',
  device: 'query.revocation.device',
} as const;

// Controller-level: the global filter startService registers does not reach hybrid-app handlers (Nest 12).
@UseFilters(CommandErrorFilter)
@Controller()
export class RevocationMsController {
  constructor(@Inject(REVOCATION_RUNTIME) private readonly runtime: RevocationRuntime) {}

  @MessagePattern(RevokeDevice.subject())
  revokeDevice(@Payload() payload: unknown): Promise<ResultOf<typeof RevokeDevice>> {
    return this.runtime.revokeDevice(payload);
  }

  @MessagePattern(RevokeBatch.subject())
  revokeBatch(@Payload() payload: unknown): Promise<ResultOf<typeof RevokeBatch>> {
    return this.runtime.revokeBatch(payload);
  }

  @MessagePattern(revocationQuerySubjects.revocation)
  revocation(@Payload() payload: unknown): RevocationView {
    const revocationId = idField(payload, 'revocationId');
    const view = this.runtime.revocation(revocationId);
    if (!view) throw notFound(`revocation ${revocationId}`, { revocationId });
    return view;
  }

  @MessagePattern(revocationQuerySubjects.device)
  device(@Payload() payload: unknown): DeviceRevocationView {
    const deviceId = idField(payload, 'deviceId');
    const view = this.runtime.deviceRevocation(deviceId);
    if (!view) throw notFound(`device ${deviceId}`, { deviceId });
    return view;
  }
}

function idField(payload: unknown, field: string): string {
  const value = (payload as Record<string, unknown> | null)?.[field];
  if (!isAggregateId(value)) throw refused('MALFORMED', `${field} must be an id ([A-Za-z0-9_-]{1,128})`);
  return value;
}
