/**
 * The CA's renewal events, to RenewTargetCertificatesHandler: one durable subscription shared by
 * every onboarding instance (`onboarding-renewed-certificates`) on `ca.renewal.*`. Only
 * DeviceCertificateRenewed acts; the completion needs nothing here (the CA's next CRL makes the
 * targets list the replaced target certificates). A target not reachable is retried with backoff
 * and parked after the attempts: the device keeps its previous, valid certificate meanwhile.
 * Renewals are independent of each other: up to 16 are handled at once (one renewal's events in
 * order), since one after the other a batch of 1,000 waited ~10 ms of round trips each (bench:renew).
 */
import { Inject, Injectable } from '@nestjs/common';
import { DeviceCertificateRenewed } from '@tunnelkey/contracts';
import type { EventStore, RecordedEvent } from '@tunnelkey/eventstore';
import { DurableReaction, EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { ONBOARDING_LOGGER } from '../tokens.js';
import { RenewTargetCertificatesHandler } from './renew-target-certificates.handler.js';

export const renewedCertificatesDurable = 'onboarding-renewed-certificates';

@Injectable()
export class RenewedCertificatesReaction extends DurableReaction {
  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    private readonly handler: RenewTargetCertificatesHandler,
    @Inject(ONBOARDING_LOGGER) logger: Logger,
  ) {
    super(store, {
      durable: renewedCertificatesDurable,
      context: 'ca',
      aggregate: 'renewal',
      delivery: 'park-after-attempts',
      concurrency: 16,
      logger,
    });
  }

  async handle(recorded: RecordedEvent): Promise<void> {
    const { event } = recorded;
    if (!DeviceCertificateRenewed.is(event)) return;
    await this.handler.handle({
      eventId: event.id,
      correlationId: event.correlationId,
      deviceId: event.data.deviceId,
      serialNumber: event.data.serialNumber,
    });
  }
}
