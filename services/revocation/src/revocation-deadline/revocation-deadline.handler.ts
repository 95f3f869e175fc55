/**
 * Records the alerts the saga's deadline says are due (RevocationStalled, RevocationEscalated) for
 * every open revocation, on the view's state and the clock. Each alert's command id derives from
 * the revocation and what it is about (`stalled:<since>`, `escalated`), and the decider decides a
 * recorded alert into nothing: every instance may run it. It never stops the saga.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { CommandMetadata } from '@tunnelkey/contracts';
import { derivedMetadata, handleCommand, type EventStore } from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import type { RevocationConfig } from '../config.js';
import { revocationDecider, revocationStream, type RevocationCommand } from '../deciders/revocation.decider.js';
import { CLOCK, REVOCATION_CONFIG, REVOCATION_LOGGER, type Clock } from '../tokens.js';
import { RevocationStatusView } from '../views/revocation-status.view.js';
import { overdue, type Overdue } from './overdue.js';

@Injectable()
export class RevocationDeadlineHandler {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly view: RevocationStatusView,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(REVOCATION_CONFIG) private readonly config: Pick<RevocationConfig, 'stallMs' | 'deadlineMs'>,
    @Inject(REVOCATION_LOGGER) private readonly logger: Logger,
  ) {}

  /** Records every alert due now; returns the ones recorded. */
  async check(): Promise<Overdue[]> {
    const now = this.clock();
    const recorded: Overdue[] = [];
    for (const revocationId of this.view.state.openRevocations()) {
      const state = this.view.state.revocation(revocationId);
      for (const alert of overdue(state, this.view.state, now, this.config)) {
        const about = alert.type === 'RecordStall' ? ['stalled', alert.data.since] : ['escalated'];
        const saga: CommandMetadata = {
          commandId: revocationId,
          correlationId: state.correlationId ?? revocationId,
          now: now.toISOString(),
          actor: { kind: 'service', id: 'revocation' },
        };
        const command = { ...alert, metadata: derivedMetadata(saga, ...about) } as RevocationCommand;
        const result = await handleCommand({
          store: this.store,
          decider: revocationDecider,
          stream: revocationStream(revocationId),
          command,
          logger: this.logger,
          maxRetries: 5,
        });
        if (result.events.length === 0) continue;
        recorded.push(alert);
        const { waitingFor, step, since, pendingTargets } = alert.data;
        const context = { revocationId, waitingFor, step, since, pendingTargets, correlationId: state.correlationId };
        if (alert.type === 'RecordStall')
          this.logger.warn(
            { event: 'revocation.stalled', ...context, stalledAfterMs: alert.data.stalledAfterMs },
            `revocation ${revocationId} stalled: waiting for ${waitingFor} (${step}) since ${since}; still retrying`,
          );
        else
          this.logger.error(
            { event: 'revocation.escalated', ...context, deadlineMs: alert.data.deadlineMs },
            `revocation ${revocationId} missed its deadline: waiting for ${waitingFor} (${step}) since ${since}; still retrying`,
          );
      }
    }
    return recorded;
  }
}
