/** The same queries over HTTP, for operators and the console: why and when a device was revoked. */
import { Controller, Get, Inject, NotFoundException, Param } from '@nestjs/common';
import { isAggregateId } from '@tunnelkey/contracts';
import { RevocationRuntime } from '../revocation-runtime.js';
import { REVOCATION_RUNTIME } from '../tokens.js';
import type { DeviceRevocationView, RevocationView } from './revocation-status.view.js';

@Controller()
export class RevocationStatusHttpController {
  constructor(@Inject(REVOCATION_RUNTIME) private readonly runtime: RevocationRuntime) {}

  @Get('revocations/:revocationId')
  revocation(@Param('revocationId') revocationId: string): RevocationView {
    const view = isAggregateId(revocationId) ? this.runtime.revocation(revocationId) : undefined;
    if (!view) throw new NotFoundException('no such revocation');
    return view;
  }

  @Get('devices/:deviceId/revocation')
  device(@Param('deviceId') deviceId: string): DeviceRevocationView {
    const view = isAggregateId(deviceId) ? this.runtime.deviceRevocation(deviceId) : undefined;
    if (!view) throw new NotFoundException('no such device');
    return view;
  }
}
