import { Inject, Injectable } from '@nestjs/common';
import {
  DecideHeldEnrolments,
  type CommandMetadata,
  type heldEnrolmentOutcomes,
  type ResultOf,
} from '@tunnelkey/contracts';
import { derivedMetadata, handleCommand, isCommandRejected, metadataOf, type EventStore } from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { batchDecider, type HeldEnrolment } from '../deciders/batch.decider.js';
import { deviceDecider } from '../deciders/device.decider.js';
import { BatchAdmission } from '../shared/batch-admission.js';
import type { Clock } from '../shared/clock.js';
import { commandOf } from '../shared/command-metadata.js';
import { DeviceStateCache } from '../shared/device-state-cache.js';
import { notFound } from '../shared/registry-errors.js';
import { batchStream, deviceStream } from '../shared/registry-streams.js';
import { REGISTRY_CLOCK, REGISTRY_LOGGER } from '../tokens.js';
import { BatchSummaryView } from '../views/batch-summary.view.js';
import { EnrolmentKeyRequestsView } from '../views/enrolment-key-requests.view.js';

type Outcome = (typeof heldEnrolmentOutcomes)[number];
const joinRefusals: ReadonlySet<string> = new Set(['in-other-batch', 'key-conflict', 'device-revoked']);

/**
 * An operator approves or rejects devices an open enrolment-key request held. Approved: the device
 * joins the batch as if it had been named (EnrolmentKeyReported, within the batch's expected size),
 * then HeldEnrolmentDecided. Rejected: HeldEnrolmentDecided only. A device already decided reports
 * that decision and changes nothing.
 */
@Injectable()
export class DecideHeldEnrolmentsHandler {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly requests: EnrolmentKeyRequestsView,
    private readonly batches: BatchSummaryView,
    private readonly deviceStates: DeviceStateCache,
    private readonly admission: BatchAdmission,
    @Inject(REGISTRY_CLOCK) private readonly clock: Clock,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
  ) {}

  async handle(payload: unknown): Promise<ResultOf<typeof DecideHeldEnrolments>> {
    const { commandId, correlationId, actor, batchId, requestId, deviceIds, decision } =
      DecideHeldEnrolments.parse(payload);
    const metadata = metadataOf({ commandId, correlationId, actor }, this.clock());
    await this.requests.catchUp();
    const request = this.requests.request(requestId);
    if (!request || request.batchId !== batchId)
      throw notFound(`enrolment-key request ${requestId} of batch ${batchId}`, { batchId, requestId });
    const devices: { deviceId: string; outcome: Outcome }[] = [];
    for (const deviceId of new Set(deviceIds)) {
      const held = this.requests.held(requestId, deviceId);
      const outcome = !held
        ? 'not-held'
        : (held.decision ??
          (decision === 'approve'
            ? await this.#approve(batchId, requestId, held, metadata)
            : await this.#decide(batchId, requestId, deviceId, 'rejected', metadata)));
      devices.push({ deviceId, outcome });
    }
    await this.requests.catchUp();
    this.logger.info(
      {
        event: 'registry.held_enrolments_decided',
        batchId,
        requestId,
        decision,
        approved: devices.filter((d) => d.outcome === 'approved').length,
        rejected: devices.filter((d) => d.outcome === 'rejected').length,
        commandId,
      },
      'held enrolments decided',
    );
    return { batchId, requestId, devices };
  }

  async #approve(batchId: string, requestId: string, held: HeldEnrolment, metadata: CommandMetadata): Promise<Outcome> {
    if (!this.batches.batchSummary(batchId)) throw notFound(`batch ${batchId}`, { batchId });
    const { deviceId, enrolmentPublicKey, enrolmentKeyDigest, firmwareMeasurement } = held;
    const admitting = derivedMetadata(metadata, deviceId);
    const { result } = await this.admission.admit(admitting, batchId, [deviceId], async ([admitted]) => {
      if (!admitted) return { result: 'batch-full' as Outcome, wrote: false };
      try {
        const reported = await handleCommand({
          store: this.store,
          decider: deviceDecider,
          stream: deviceStream(deviceId),
          cache: this.deviceStates.for(deviceId),
          command: commandOf(
            'RecordEnrolmentKeyReport',
            { deviceId, requestId, batchId, enrolmentPublicKey, enrolmentKeyDigest, firmwareMeasurement },
            admitting,
          ),
          logger: this.logger,
        });
        return { result: 'approved' as Outcome, wrote: reported.events.length > 0 };
      } catch (error) {
        if (isCommandRejected(error) && joinRefusals.has(error.reason))
          return { result: error.reason as Outcome, wrote: false, refused: [deviceId] };
        throw error;
      }
    });
    if (result !== 'approved') return result;
    return this.#decide(batchId, requestId, deviceId, 'approved', metadata);
  }

  async #decide(
    batchId: string,
    requestId: string,
    deviceId: string,
    decision: 'approved' | 'rejected',
    metadata: CommandMetadata,
  ): Promise<Outcome> {
    await handleCommand({
      store: this.store,
      decider: batchDecider,
      stream: batchStream(batchId),
      command: commandOf(
        'DecideHeldEnrolment',
        { batchId, requestId, deviceId, decision },
        derivedMetadata(metadata, 'decision', deviceId),
      ),
      logger: this.logger,
    });
    return decision;
  }
}
