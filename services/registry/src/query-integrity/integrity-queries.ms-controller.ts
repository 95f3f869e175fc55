import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { DescribeDeviceIntegrity, ListIntegrityAlerts } from '@tunnelkey/contracts';
import { IntegrityQueriesHandler } from './integrity-queries.handler.js';

@Controller()
export class IntegrityQueriesMsController {
  constructor(private readonly handler: IntegrityQueriesHandler) {}

  @MessagePattern(ListIntegrityAlerts.subject())
  listIntegrityAlerts(@Payload() payload: unknown) {
    return this.handler.alerts(payload);
  }

  @MessagePattern(DescribeDeviceIntegrity.subject())
  describeDeviceIntegrity(@Payload() payload: unknown) {
    return this.handler.device(payload);
  }
}
