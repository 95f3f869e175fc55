/** The revocation queries over NATS request/reply; refusals become replies in messaging's one command filter. */
import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { isAggregateId } from '@tunnelkey/contracts';
import { notFound, refused } from '../errors.js';
import { RevocationStatusView } from '../views/revocation-status.view.js';
import {
  deviceRevocationView,
  revocationView,
  type DeviceRevocationView,
  type RevocationView,
} from './revocation-status.queries.js';

/** Query subjects (under the namespace, like commands): the gateway's read models may take over later. */
export const revocationQuerySubjects = {
  revocation: 'query.revocation.revocation',
  device: 'query.revocation.device',
} as const;

@Controller()
export class RevocationStatusMsController {
  constructor(private readonly view: RevocationStatusView) {}

  @MessagePattern(revocationQuerySubjects.revocation)
  revocation(@Payload() payload: unknown): RevocationView {
    const revocationId = idField(payload, 'revocationId');
    const found = revocationView(revocationId, this.view.state);
    if (!found) throw notFound(`revocation ${revocationId}`, { revocationId });
    return found;
  }

  @MessagePattern(revocationQuerySubjects.device)
  device(@Payload() payload: unknown): DeviceRevocationView {
    const deviceId = idField(payload, 'deviceId');
    const found = deviceRevocationView(deviceId, this.view.state);
    if (!found) throw notFound(`device ${deviceId}`, { deviceId });
    return found;
  }
}

function idField(payload: unknown, field: string): string {
  const value = (payload as Record<string, unknown> | null)?.[field];
  if (!isAggregateId(value)) throw refused('MALFORMED', `${field} must be an id ([A-Za-z0-9_-]{1,128})`);
  return value;
}
