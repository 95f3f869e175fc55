/**
 * The registry's quarantine decisions (DeviceQuarantined, DeviceQuarantineReleased on
 * `registry.integrity.<id>`), to QuarantineDevicesHandler. One durable subscription shared by every
 * onboarding instance; never parked (`retry-forever`): a quarantine a target cannot take yet is
 * retried until it does.
 */
import { Inject, Injectable } from '@nestjs/common';
import { DeviceQuarantined, DeviceQuarantineReleased } from '@tunnelkey/contracts';
import type { EventStore, RecordedEvent } from '@tunnelkey/eventstore';
import { DurableReaction, EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { ONBOARDING_LOGGER } from '../tokens.js';
import { QuarantineDevicesHandler } from './quarantine-devices.handler.js';

export const integrityDecisionsDurable = 'onboarding-integrity-decisions';

@Injectable()
export class IntegrityDecisionsReaction extends DurableReaction {
  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    private readonly handler: QuarantineDevicesHandler,
    @Inject(ONBOARDING_LOGGER) logger: Logger,
  ) {
    super(store, {
      durable: integrityDecisionsDurable,
      context: 'registry',
      aggregate: 'integrity',
      delivery: 'retry-forever',
      logger,
    });
  }

  async handle(recorded: RecordedEvent): Promise<void> {
    const { event } = recorded;
    if (DeviceQuarantined.is(event) || DeviceQuarantineReleased.is(event))
      await this.handler.handle({
        deviceId: event.data.deviceId,
        quarantined: DeviceQuarantined.is(event),
        eventId: event.id,
      });
  }
}
