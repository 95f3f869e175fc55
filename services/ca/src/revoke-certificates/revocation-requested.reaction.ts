/**
 * Reacts to RevocationRequested (revocation context) through the durable `ca-revoke-certificates`,
 * one name for every CA instance: each request is applied by one of them, one at a time, in log
 * order; a restart resumes where the durable stopped. A request that fails is redelivered with capped
 * backoff until applied, never parked (`retry-forever`); stuck, it shows in /metrics and the log. Requests queued behind the delivered one
 * (from the pending-requests view) are applied with it, and found applied when their turn comes.
 */
import { Inject, Injectable } from '@nestjs/common';
import { RevocationRequested } from '@tunnelkey/contracts';
import { describeError, type EventStore, type RecordedEvent } from '@tunnelkey/eventstore';
import { DurableReaction, EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { AUTHORITIES_READY, CA_LOGGER } from '../tokens.js';
import { PendingRevocationRequestsView } from '../views/pending-revocation-requests.view.js';
import { RevokeCertificatesHandler } from './revoke-certificates.handler.js';

export const revocationRequestsDurable = 'ca-revoke-certificates';

/** Devices one pass takes along at most (the leading revocation always goes in whole). */
const maxDevicesPerPass = 5_000;

@Injectable()
export class RevocationRequestedReaction extends DurableReaction {
  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    private readonly handler: RevokeCertificatesHandler,
    private readonly pending: PendingRevocationRequestsView,
    @Inject(CA_LOGGER) private readonly logger: Logger,
    // Not used: orders the start after the authorities and their first CRLs exist.
    @Inject(AUTHORITIES_READY) _authoritiesReady: unknown,
  ) {
    // Never parked: a request the CA cannot apply yet (key store down) is retried until it is.
    super(store, {
      durable: revocationRequestsDurable,
      context: 'revocation',
      aggregate: 'revocation',
      delivery: 'retry-forever',
      logger,
    });
  }

  /** One delivered event; throws to have it redelivered (a revocation is never skipped). */
  async handle(recorded: RecordedEvent): Promise<void> {
    if (!RevocationRequested.is(recorded.event)) return;
    const request = recorded.event;
    // Everything before it in the log was delivered (and applied) before it.
    this.pending.forgetUpTo(recorded.sequence);
    const takenAlong = this.pending.behind(recorded.sequence, request.data.deviceIds.length, maxDevicesPerPass);
    try {
      const applied = await this.handler.apply(request, takenAlong);
      this.pending.forget(applied.map((a) => a.revocationId));
    } catch (error) {
      const { revocationId } = request.data;
      this.logger.warn(
        { event: 'ca.revocation_retry', revocationId, error: describeError(error) },
        'revocation not applied yet; will retry',
      );
      throw error;
    }
  }
}
