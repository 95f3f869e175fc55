import { Inject, Injectable } from '@nestjs/common';
import { CertificateIssued } from '@tunnelkey/contracts';
import type { EventStore, RecordedEvent } from '@tunnelkey/eventstore';
import { DurableReaction, EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { RegistryStreams } from '../shared/registry-streams.js';
import { REGISTRY_LOGGER } from '../tokens.js';
import { RecordCertificateHandler } from './record-certificate.handler.js';

export const certificateIssuedDurable = 'registry-certificate-issued';

/** CA -> registry: every CertificateIssued becomes DeviceCertified on the device (RecordCertificateHandler). */
@Injectable()
export class CertificateIssuedReaction extends DurableReaction {
  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    private readonly streams: RegistryStreams,
    private readonly handler: RecordCertificateHandler,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
  ) {
    // A certificate the registry cannot record after the store's attempts is parked, not blocking the ones after it.
    super(store, {
      durable: certificateIssuedDurable,
      context: 'ca',
      aggregate: 'device',
      delivery: 'park-after-attempts',
      logger,
    });
  }

  handle(recorded: RecordedEvent): Promise<void> | undefined {
    return CertificateIssued.is(recorded.event) ? this.handler.handle(recorded.event) : undefined;
  }

  protected override async beforeStart(): Promise<void> {
    await this.streams.ensured();
    this.logger.info(
      { event: 'registry.ca_subscription_started', durable: certificateIssuedDurable },
      'following CA certificate events',
    );
  }
}
