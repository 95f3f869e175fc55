import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  manufacturerAttestationBytes,
  type DeviceBodyOf,
  type DeviceEnvelope,
  type EnrolmentKeyReportMessage,
} from '@tunnelkey/contracts';
import { bytesSignatureValid, importVerifyKey, type CryptoKey } from '@tunnelkey/device-protocol';
import { KeyedQueue } from '@tunnelkey/concurrency';
import { handleCommand, isCommandRejected, type EventStore } from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { batchDecider } from '../deciders/batch.decider.js';
import { deviceDecider } from '../deciders/device.decider.js';
import { acceptedUplink, droppedUplink, refusedUplink, type UplinkOutcome } from '../device-uplinks/uplink-outcome.js';
import { BatchAdmission } from '../shared/batch-admission.js';
import type { Clock } from '../shared/clock.js';
import { commandOf, uplinkMetadata } from '../shared/command-metadata.js';
import { DeviceStateCache } from '../shared/device-state-cache.js';
import { batchStream, deviceStream } from '../shared/registry-streams.js';
import { REGISTRY_CLOCK, REGISTRY_LOGGER } from '../tokens.js';
import { BatchSummaryView } from '../views/batch-summary.view.js';
import { EnrolmentKeyRequestsView } from '../views/enrolment-key-requests.view.js';

export type EnrolmentKeyReport = DeviceEnvelope<'enrolment-key-report', DeviceBodyOf<typeof EnrolmentKeyReportMessage>>;

/**
 * A device answered an enrolment-key request. It joins the request's batch (EnrolmentKeyReported)
 * when the request named it, or, on an open request, when a manufacturer key registered with the
 * batch attests its enrolment key. Any other answer to an open request is held for an operator
 * (EnrolmentApprovalRequested, at most maxHeldPerRequest per request) and takes no place in the batch.
 */
@Injectable()
export class EnrolmentKeyReportHandler {
  readonly #manufacturerKeys = new Map<string, Promise<CryptoKey | null>>();
  /** Holds append to their batch's one stream: one at a time per batch, or a crowd of answers conflicts past every retry. */
  readonly #holds = new KeyedQueue();

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
    const { requestId, enrolmentPublicKey, firmwareMeasurement, manufacturerAttestation } = envelope.body;
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
    if (!request.deviceIds && !this.admission.isMember(batchId, deviceId)) {
      const attested = await this.#attested(batchId, enrolmentPublicKey, manufacturerAttestation);
      if (attested !== 'attested') {
        return this.#hold(envelope, batchId, {
          deviceId,
          requestId,
          enrolmentPublicKey,
          enrolmentKeyDigest,
          firmwareMeasurement,
          reason: attested,
        });
      }
    }
    const metadata = uplinkMetadata(envelope, now);
    const { result } = await this.admission.admit(metadata, batchId, [deviceId], async ([admitted]) => {
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
            metadata,
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
        if (isCommandRejected(error))
          return { result: refusedUplink(error.reason, error.message), wrote: false, refused: [deviceId] };
        throw error;
      }
    });
    return result;
  }

  /** Whether a manufacturer key registered with the batch signed this enrolment key. */
  async #attested(
    batchId: string,
    enrolmentPublicKey: string,
    attestation: EnrolmentKeyReport['body']['manufacturerAttestation'],
  ): Promise<'attested' | 'unattested' | 'attestation-invalid'> {
    if (!attestation) return 'unattested';
    const registered = this.requests.manufacturerKey(batchId, attestation.keyId);
    if (!registered) return 'attestation-invalid';
    let key = this.#manufacturerKeys.get(registered.keyDigest);
    if (!key) {
      key = importVerifyKey(registered.publicKey).catch(() => null);
      this.#manufacturerKeys.set(registered.keyDigest, key);
    }
    const verifyKey = await key;
    if (!verifyKey) return 'attestation-invalid';
    const valid = await bytesSignatureValid(
      manufacturerAttestationBytes({ enrolmentPublicKey }),
      attestation.signature,
      verifyKey,
    ).catch(() => false);
    return valid ? 'attested' : 'attestation-invalid';
  }

  /** An unattested answer to an open request: recorded for an operator, no place in the batch. */
  async #hold(
    envelope: EnrolmentKeyReport,
    batchId: string,
    held: {
      deviceId: string;
      requestId: string;
      enrolmentPublicKey: string;
      enrolmentKeyDigest: string;
      firmwareMeasurement: string;
      reason: 'unattested' | 'attestation-invalid';
    },
  ): Promise<UplinkOutcome> {
    if (this.requests.held(held.requestId, held.deviceId)) return acceptedUplink('held');
    try {
      const result = await this.#holds.run(batchId, () =>
        handleCommand({
          store: this.store,
          decider: batchDecider,
          stream: batchStream(batchId),
          command: commandOf('HoldEnrolment', { batchId, ...held }, uplinkMetadata(envelope, this.clock())),
          logger: this.logger,
        }),
      );
      if (result.events.length > 0 && !result.alreadyHandled) {
        this.logger.info(
          {
            event: 'registry.enrolment_held',
            deviceId: held.deviceId,
            batchId,
            requestId: held.requestId,
            reason: held.reason,
          },
          'device held for approval',
        );
      }
      return acceptedUplink('held');
    } catch (error) {
      // A full hold list: the answer is dropped without a reply (anyone can generate keys).
      if (isCommandRejected(error) && error.reason === 'hold-full') return droppedUplink('hold-full');
      if (isCommandRejected(error)) return refusedUplink(error.reason, error.message);
      throw error;
    }
  }
}
