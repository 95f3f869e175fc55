import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { DeviceBodyOf, DeviceEnvelope, EnrolmentKeyReportMessage } from '@tunnelkey/contracts';
import { handleCommand, isCommandRejected, type EventStore } from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { deviceDecider } from '../deciders/device.decider.js';
import { acceptedUplink, refusedUplink, type UplinkOutcome } from '../device-uplinks/uplink-outcome.js';
import { BatchAdmission } from '../shared/batch-admission.js';
import type { Clock } from '../shared/clock.js';
import { commandOf, uplinkMetadata } from '../shared/command-metadata.js';
import { DeviceStateCache } from '../shared/device-state-cache.js';
import { deviceStream } from '../shared/registry-streams.js';
import { REGISTRY_CLOCK, REGISTRY_LOGGER } from '../tokens.js';
import { BatchSummaryView } from '../views/batch-summary.view.js';
import { EnrolmentKeyRequestsView } from '../views/enrolment-key-requests.view.js';

export type EnrolmentKeyReport = DeviceEnvelope<'enrolment-key-report', DeviceBodyOf<typeof EnrolmentKeyReportMessage>>;

/** A device answered an enrolment-key request: EnrolmentKeyReported, and the device joins the request's batch. */
@Injectable()
export class EnrolmentKeyReportHandler {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly deviceStates: DeviceStateCache,
    private readonly requests: EnrolmentKeyRequestsView,
    private readonly batches: BatchSummaryView,
    private readonly admission: BatchAdmission,
    @Inject(REGISTRY_CLOCK) private readonly clock: Clock,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
  ) {}

  async handle(envelope: EnrolmentKeyReport): Promise<UplinkOutcome> {
    const { deviceId } = envelope;
    const { requestId, enrolmentPublicKey, firmwareMeasurement } = envelope.body;
    const now = this.clock();
    const request = this.requests.request(requestId);
    if (!request) return refusedUplink('unknown-request', 'no such enrolment-key request');
    if (Date.parse(request.expiresAt) < now.getTime())
      return refusedUplink('request-expired', 'the enrolment-key request has expired');
    if (request.deviceIds && !request.deviceIds.includes(deviceId)) {
      return refusedUplink('not-requested', 'this device was not asked for its key');
    }
    const { batchId } = request;
    const batch = this.batches.batchSummary(batchId);
    if (!batch) return refusedUplink('unknown-batch');
    const enrolmentKeyDigest = createHash('sha256').update(Buffer.from(enrolmentPublicKey, 'base64')).digest('hex');
    const { result } = await this.admission.admit(batchId, batch.expectedSize, [deviceId], async ([admitted]) => {
      if (!admitted) return { result: refusedUplink('batch-full', 'the batch has no place left'), wrote: false };
      try {
        const reported = await handleCommand({
          store: this.store,
          decider: deviceDecider,
          stream: deviceStream(deviceId),
          cache: this.deviceStates.for(deviceId),
          command: commandOf(
            'RecordEnrolmentKeyReport',
            { deviceId, requestId, batchId, enrolmentPublicKey, enrolmentKeyDigest, firmwareMeasurement },
            uplinkMetadata(envelope, now),
          ),
          logger: this.logger,
        });
        if (reported.events.length > 0 && !reported.alreadyHandled) {
          this.logger.info(
            { event: 'registry.enrolment_key_reported', deviceId, batchId, requestId },
            'device reported its enrolment key',
          );
        }
        return { result: acceptedUplink(), wrote: reported.events.length > 0 };
      } catch (error) {
        if (isCommandRejected(error)) return { result: refusedUplink(error.reason, error.message), wrote: false };
        throw error;
      }
    });
    return result;
  }
}
