/**
 * The CA's CrlPublished events, to RevokeDeviceHandler. One durable subscription shared by every
 * onboarding instance (`onboarding-published-crls`), so a restart resumes where it stopped and
 * instances share the work. An event whose handling failed is not acked: redelivered with backoff.
 */
import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { CrlPublished } from '@tunnelkey/contracts';
import type { EventStore, RecordedEvent, Subscription } from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import { RevokeDeviceHandler } from './revoke-device.handler.js';

export const publishedCrlsDurable = 'onboarding-published-crls';

@Injectable()
export class PublishedCrlsReaction implements OnModuleInit, OnModuleDestroy {
  #subscription: Subscription | undefined;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly handler: RevokeDeviceHandler,
  ) {}

  async onModuleInit(): Promise<void> {
    const options = { durable: publishedCrlsDurable, context: 'ca' as const, aggregate: 'crl' };
    this.#subscription = await this.store.subscribe(options, (recorded) => this.#onCrlEvent(recorded));
  }

  async onModuleDestroy(): Promise<void> {
    await this.#subscription?.stop();
    this.#subscription = undefined;
  }

  async #onCrlEvent(recorded: RecordedEvent): Promise<void> {
    if (!CrlPublished.is(recorded.event)) return;
    const { authorityId, crlNumber } = recorded.event.data;
    await this.handler.handle({ eventId: recorded.event.id, authorityId, crlNumber });
  }
}
