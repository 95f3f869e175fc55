import { Inject, Injectable } from '@nestjs/common';
import { RevocationStepCompleted } from '@tunnelkey/contracts';
import type { EventStore, RecordedEvent } from '@tunnelkey/eventstore';
import { DurableReaction, EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { RegistryStreams } from '../shared/registry-streams.js';
import { REGISTRY_LOGGER } from '../tokens.js';
import { RevokeDevicesHandler } from './revoke-devices.handler.js';

export const revocationStepsDurable = 'registry-revocation-steps';

/**
 * Revocation saga -> registry: its completed steps, handed to RevokeDevicesHandler. Never parked
 * (`retry-forever`): a step that fails is redelivered with capped backoff until recorded.
 */
@Injectable()
export class RevocationStepsReaction extends DurableReaction {
  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    private readonly streams: RegistryStreams,
    private readonly handler: RevokeDevicesHandler,
    @Inject(REGISTRY_LOGGER) logger: Logger,
  ) {
    super(store, {
      durable: revocationStepsDurable,
      context: 'revocation',
      aggregate: 'revocation',
      delivery: 'retry-forever',
      logger,
    });
  }

  handle(recorded: RecordedEvent): Promise<void> | undefined {
    return RevocationStepCompleted.is(recorded.event) ? this.handler.handle(recorded.event) : undefined;
  }

  protected override beforeStart(): Promise<void> {
    return this.streams.ensured();
  }
}
