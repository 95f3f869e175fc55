import { Controller, Inject } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { isAggregateId } from '@tunnelkey/contracts';
import { notFound, refused } from '../shared/registry-errors.js';
import { BatchSummaryView } from './batch-summary.view.js';
import { DeviceByIdView } from './device-by-id.view.js';
import { EnrolmentKeyRequestsView } from './enrolment-key-requests.view.js';
import type { Clock } from '../shared/clock.js';
import { REGISTRY_CLOCK } from '../tokens.js';

/**
 * A small internal query API over the registry's views, until the gateway's read models
 * (issue 7) take over: request/reply with the same `{ok, result}` reply shape as commands.
 */
export const registryQuerySubjects = {
  batchSummary: 'query.registry.batch-summary',
  batches: 'query.registry.batches',
  device: 'query.registry.device',
  enrolmentKeyRequest: 'query.registry.enrolment-key-request',
} as const;

@Controller()
export class RegistryQueriesMsController {
  constructor(
    private readonly batches: BatchSummaryView,
    private readonly devices: DeviceByIdView,
    private readonly requests: EnrolmentKeyRequestsView,
    @Inject(REGISTRY_CLOCK) private readonly clock: Clock,
  ) {}

  /** An enrolment-key request and the devices it holds for approval (pending, approved, rejected). */
  @MessagePattern(registryQuerySubjects.enrolmentKeyRequest)
  enrolmentKeyRequest(@Payload() payload: unknown) {
    const requestId = idField(payload, 'requestId');
    const report = this.requests.report(requestId, this.clock());
    if (!report) throw notFound(`enrolment-key request ${requestId}`, { requestId });
    return report;
  }

  @MessagePattern(registryQuerySubjects.batchSummary)
  batchSummary(@Payload() payload: unknown) {
    const batchId = idField(payload, 'batchId');
    const summary = this.batches.batchSummary(batchId);
    if (!summary) throw notFound(`batch ${batchId}`, { batchId });
    return summary;
  }

  @MessagePattern(registryQuerySubjects.batches)
  batchSummaries() {
    return this.batches.batchSummaries();
  }

  @MessagePattern(registryQuerySubjects.device)
  device(@Payload() payload: unknown) {
    const deviceId = idField(payload, 'deviceId');
    const device = this.devices.device(deviceId);
    if (!device) throw notFound(`device ${deviceId}`, { deviceId });
    return device;
  }
}

function idField(payload: unknown, field: string): string {
  const value = (payload as Record<string, unknown> | null)?.[field];
  if (!isAggregateId(value)) throw refused('MALFORMED', `${field} must be an id ([A-Za-z0-9_-]{1,128})`, {});
  return value;
}
