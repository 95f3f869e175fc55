import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { DeviceBodyOf, DeviceEnvelope, EnrolmentKeyReportMessage } from '@tunnelkey/contracts';
import { isCommandRejected } from '@tunnelkey/eventstore';
import { acceptedUplink, refusedUplink, type UplinkOutcome } from '../device-uplinks/uplink-outcome.js';
import { RegistryReadModel } from '../read-model/registry-read-model.js';
import { BatchAdmission } from '../shared/batch-admission.js';
import { commandOf, uplinkMetadata } from '../shared/command-metadata.js';
import { RegistryAggregates } from '../shared/registry-aggregates.js';
import { REGISTRY_RUNTIME, type RegistryRuntime } from '../shared/registry-runtime.js';

type EnrolmentKeyReport = DeviceEnvelope<'enrolment-key-report', DeviceBodyOf<typeof EnrolmentKeyReportMessage>>;

/** A device answered an enrolment-key request: EnrolmentKeyReported, and the device joins the request's batch. */
@Injectable()
export class EnrolmentKeyReportHandler {
  constructor(
    private readonly aggregates: RegistryAggregates,
    private readonly readModel: RegistryReadModel,
    private readonly admission: BatchAdmission,
    @Inject(REGISTRY_RUNTIME) private readonly runtime: RegistryRuntime,
  ) {}

  async handle(envelope: EnrolmentKeyReport): Promise<UplinkOutcome> {
    const { deviceId } = envelope;
    const { requestId, enrolmentPublicKey, firmwareMeasurement } = envelope.body;
    const now = this.runtime.clock();
    const request = this.readModel.enrolmentKeyRequest(requestId);
    if (!request) return refusedUplink('unknown-request', 'no such enrolment-key request');
    if (Date.parse(request.expiresAt) < now.getTime()) return refusedUplink('request-expired', 'the enrolment-key request has expired');
    if (request.deviceIds && !request.deviceIds.includes(deviceId)) return refusedUplink('not-requested', 'this device was not asked for its key');
    const batch = this.readModel.batchSummary(request.batchId);
    if (!batch) return refusedUplink('unknown-batch');
    const enrolmentKeyDigest = createHash('sha256').update(Buffer.from(enrolmentPublicKey, 'base64')).digest('hex');
    return this.admission.admit(request.batchId, batch.expectedSize, [deviceId], async ([admitted]) => {
      if (!admitted) return { result: refusedUplink('batch-full', 'the batch has no place left'), lastSequence: 0 };
      try {
        const result = await this.aggregates.device(
          commandOf(
            'RecordEnrolmentKeyReport',
            { deviceId, requestId, batchId: request.batchId, enrolmentPublicKey, enrolmentKeyDigest, firmwareMeasurement },
            uplinkMetadata(envelope, now),
          ),
        );
        if (result.events.length > 0 && !result.alreadyHandled) {
          this.runtime.logger.info({ event: 'registry.enrolment_key_reported', deviceId, batchId: request.batchId, requestId }, 'device reported its enrolment key');
        }
        return { result: acceptedUplink(), lastSequence: result.events.length > 0 ? result.version : 0 };
      } catch (error) {
        if (isCommandRejected(error)) return { result: refusedUplink(error.reason, error.message), lastSequence: 0 };
        throw error;
      }
    });
  }
}
