/**
 * The CA's CrlPublished events, to RevokeDeviceHandler. One durable subscription shared by every
 * onboarding instance (`onboarding-published-crls`), so a restart resumes where it stopped and
 * instances share the work. An event whose handling failed is not acked: redelivered with capped
 * backoff until handled, never parked (`retry-forever`); stuck, it shows in /metrics and the log.
 */
import { Inject, Injectable } from '@nestjs/common';
import { CrlPublished } from '@tunnelkey/contracts';
import type { EventStore, RecordedEvent } from '@tunnelkey/eventstore';
import { DurableReaction, EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { ONBOARDING_LOGGER } from '../tokens.js';
import { RevokeDeviceHandler } from './revoke-device.handler.js';

export const publishedCrlsDurable = 'onboarding-published-crls';

@Injectable()
export class PublishedCrlsReaction extends DurableReaction {
  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    private readonly handler: RevokeDeviceHandler,
    @Inject(ONBOARDING_LOGGER) logger: Logger,
  ) {
    // Never parked: a CRL a target cannot take yet (offline, a reload failing) is retried until it does.
    super(store, { durable: publishedCrlsDurable, context: 'ca', aggregate: 'crl', delivery: 'retry-forever', logger });
  }

  async handle(recorded: RecordedEvent): Promise<void> {
    if (!CrlPublished.is(recorded.event)) return;
    const { authorityId, crlNumber } = recorded.event.data;
    await this.handler.handle({ eventId: recorded.event.id, authorityId, crlNumber });
  }
}
