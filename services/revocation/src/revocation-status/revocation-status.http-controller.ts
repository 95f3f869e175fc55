/** The same queries over HTTP, for operators and the console: why and when a device was revoked. */
import { Controller, Get, NotFoundException, Param } from '@nestjs/common';
import { isAggregateId } from '@tunnelkey/contracts';
import { RevocationStatusView } from '../views/revocation-status.view.js';
import {
  deviceRevocationView,
  revocationView,
  type DeviceRevocationView,
  type RevocationView,
} from './revocation-status.queries.js';

@Controller()
export class RevocationStatusHttpController {
  constructor(private readonly view: RevocationStatusView) {}

  @Get('revocations/:revocationId')
  revocation(@Param('revocationId') revocationId: string): RevocationView {
    const found = isAggregateId(revocationId) ? revocationView(revocationId, this.view.state) : undefined;
    if (!found) throw new NotFoundException('no such revocation');
    return found;
  }

  @Get('devices/:deviceId/revocation')
  device(@Param('deviceId') deviceId: string): DeviceRevocationView {
    const found = isAggregateId(deviceId) ? deviceRevocationView(deviceId, this.view.state) : undefined;
    if (!found) throw new NotFoundException('no such device');
    return found;
  }
}
