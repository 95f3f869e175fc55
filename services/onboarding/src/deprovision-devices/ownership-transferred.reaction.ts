/**
 * The registry's OwnershipTransferCompleted, to DeprovisionDevicesHandler: a device handed to a new
 * owner is cut off every target it is onboarded to (the old owner's): its target certificates go on
 * those targets' CRLs (a reconnect fails its TLS handshake), its live sessions are dropped, and
 * DeviceDeprovisioned (ownership-transferred) is recorded per target. The new owner onboards it to
 * its own targets as any device of its batch. One durable shared by every onboarding instance
 * (`onboarding-ownership-transfers`); never parked: retried until every target took it.
 */
import { Inject, Injectable } from '@nestjs/common';
import { OwnershipTransferCompleted } from '@tunnelkey/contracts';
import type { EventStore, RecordedEvent } from '@tunnelkey/eventstore';
import { DurableReaction, EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { DeprovisioningIncompleteError } from '../errors.js';
import { ONBOARDING_LOGGER } from '../tokens.js';
import { DeprovisionDevicesHandler } from './deprovision-devices.handler.js';

export const ownershipTransfersDurable = 'onboarding-ownership-transfers';

@Injectable()
export class OwnershipTransferredReaction extends DurableReaction {
  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    private readonly deprovisioning: DeprovisionDevicesHandler,
    @Inject(ONBOARDING_LOGGER) logger: Logger,
  ) {
    super(store, {
      durable: ownershipTransfersDurable,
      context: 'registry',
      aggregate: 'device',
      delivery: 'retry-forever',
      logger,
    });
  }

  async handle(recorded: RecordedEvent): Promise<void> {
    if (!OwnershipTransferCompleted.is(recorded.event)) return;
    const { deviceId, transferId } = recorded.event.data;
    const outcome = await this.deprovisioning.handle({
      deviceIds: [deviceId],
      reason: 'ownership-transferred',
      commandId: `transfer-${recorded.event.id}`,
    });
    if (outcome.failed > 0)
      throw new DeprovisioningIncompleteError('a transferred device could not be cut off every target yet', {
        deviceId,
        transferId,
      });
  }
}
