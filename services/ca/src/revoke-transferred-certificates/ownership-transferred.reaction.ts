/**
 * Reacts to OwnershipTransferCompleted (registry) through the durable `ca-ownership-transfers`, one
 * name for every CA instance: each transfer is applied by one of them, in log order; a restart
 * resumes where the durable stopped. Never parked (`retry-forever`): the old owner's certificates
 * must end up revoked, however long the key store or the bus is away.
 */
import { Inject, Injectable } from '@nestjs/common';
import { OwnershipTransferCompleted } from '@tunnelkey/contracts';
import { describeError, type EventStore, type RecordedEvent } from '@tunnelkey/eventstore';
import { DurableReaction, EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { AUTHORITIES_READY, CA_LOGGER } from '../tokens.js';
import { RevokeTransferredCertificatesHandler } from './revoke-transferred-certificates.handler.js';

export const ownershipTransfersDurable = 'ca-ownership-transfers';

@Injectable()
export class OwnershipTransferredReaction extends DurableReaction {
  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    private readonly handler: RevokeTransferredCertificatesHandler,
    @Inject(CA_LOGGER) private readonly logger: Logger,
    // Not used: orders the start after the authorities and their first CRLs exist.
    @Inject(AUTHORITIES_READY) _authoritiesReady: unknown,
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
    const { data, correlationId } = recorded.event;
    try {
      await this.handler.apply(data, correlationId);
    } catch (error) {
      this.logger.warn(
        {
          event: 'ca.transfer_revocation_retry',
          deviceId: data.deviceId,
          transferId: data.transferId,
          error: describeError(error),
        },
        "old owner's certificates not revoked yet; will retry",
      );
      throw error;
    }
  }
}
