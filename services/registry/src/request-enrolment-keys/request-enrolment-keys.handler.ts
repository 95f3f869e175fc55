import { Inject, Injectable } from '@nestjs/common';
import { EnrolmentKeyRequestMessage, RequestEnrolmentKeys, type ResultOf } from '@tunnelkey/contracts';
import { RegistryReadModel } from '../read-model/registry-read-model.js';
import { addSeconds } from '../shared/clock.js';
import { commandOf, metadataOf } from '../shared/command-metadata.js';
import { mapBounded } from '../shared/concurrency.js';
import { DownlinkSender } from '../shared/downlink-sender.js';
import { RegistryAggregates } from '../shared/registry-aggregates.js';
import { REGISTRY_RUNTIME, type RegistryRuntime } from '../shared/registry-runtime.js';

/**
 * For operators without an identity file: asks the named devices, or every device that announced
 * itself and is in no batch yet, to report its enrolment key. Reports arrive as
 * enrolment-key-report messages (see enrolment-key-report.handler) and the devices join the batch.
 */
@Injectable()
export class RequestEnrolmentKeysHandler {
  constructor(
    private readonly aggregates: RegistryAggregates,
    private readonly readModel: RegistryReadModel,
    private readonly downlinks: DownlinkSender,
    @Inject(REGISTRY_RUNTIME) private readonly runtime: RegistryRuntime,
  ) {}

  async handle(payload: unknown): Promise<ResultOf<typeof RequestEnrolmentKeys>> {
    const { commandId, correlationId, actor, batchId, requestId, deviceIds, ttlSeconds } = RequestEnrolmentKeys.parse(payload);
    const now = this.runtime.clock();
    const metadata = metadataOf({ commandId, correlationId, actor }, now);
    const expiresAt = addSeconds(now, ttlSeconds).toISOString();
    const result = await this.aggregates.batch(commandOf('RequestEnrolmentKeys', { batchId, requestId, expiresAt, ...(deviceIds ? { deviceIds } : {}) }, metadata));
    const request = result.state.status === 'Created' ? result.state.enrolmentKeyRequests[requestId] : undefined;
    const effectiveExpiry = request?.expiresAt ?? expiresAt;
    // Reports can come back within milliseconds: the read model must know the request first.
    await this.readModel.caughtUpTo(result.version);
    const targets = request?.deviceIds ?? this.readModel.unassignedAnnouncedDevices();
    // A retried request is sent again while it is open: devices answer idempotently.
    if (Date.parse(effectiveExpiry) > now.getTime()) {
      await mapBounded(targets, this.runtime.bulkConcurrency, (deviceId) => this.downlinks.send(EnrolmentKeyRequestMessage, deviceId, { requestId, expiresAt: effectiveExpiry }));
    }
    this.runtime.logger.info({ event: 'registry.enrolment_keys_requested', batchId, requestId, devices: targets.length, named: Boolean(request?.deviceIds), commandId }, 'enrolment keys requested');
    return { requestId, expiresAt: effectiveExpiry };
  }
}
