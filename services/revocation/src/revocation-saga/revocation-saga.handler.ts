/**
 * One revocation's saga work: record every step the revocation-status view allows now, one after
 * the other (the next step from the pure process manager, the step through the decider).
 *
 * A step's command id derives from the revocation and the step, and the decider decides a recorded
 * step into nothing: a step is never repeated, whoever records it first (a resumed saga, another
 * instance), and never lost (what triggers it is in a log, and the view is rebuilt from the logs).
 */
import { Inject, Injectable } from '@nestjs/common';
import type { CommandMetadata } from '@tunnelkey/contracts';
import {
  derivedMetadata,
  describeError,
  handleCommand,
  isCommandRejected,
  type EventStore,
} from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import {
  revocationDecider,
  revocationStream,
  type RevocationCommand,
  type RevocationState,
} from '../deciders/revocation.decider.js';
import { CLOCK, REVOCATION_LOGGER, type Clock } from '../tokens.js';
import { RevocationStatusView } from '../views/revocation-status.view.js';
import { nextStep, type NextStep } from './next-step.js';

/** What a step's command id derives from: the step, and the target for a per-target step. */
const stepParts = (step: NextStep): string[] =>
  step.type === 'CompleteStep' ? [step.data.step, ...(step.data.targetId ? [step.data.targetId] : [])] : ['completed'];

@Injectable()
export class RevocationSagaHandler {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly view: RevocationStatusView,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(REVOCATION_LOGGER) private readonly logger: Logger,
  ) {}

  /** Records the steps the view allows now; returns them. `stopped` ends the loop between steps. */
  async advance(revocationId: string, stopped: () => boolean = () => false): Promise<NextStep[]> {
    const recorded: NextStep[] = [];
    const tried = new Set<string>();
    let state: RevocationState = this.view.state.revocation(revocationId);
    for (;;) {
      // Before deciding which targets matter, know every onboarding the logs hold now.
      if (state.status === 'CrlPublished') await this.view.catchUp(['onboarding']);
      const step = nextStep(state, this.view.state);
      if (!step || stopped()) return recorded;
      const key = stepParts(step).join(':');
      // Asked twice in one pass: the log and the view disagree; the view's next event asks again.
      if (tried.has(key)) return recorded;
      tried.add(key);
      const saga: CommandMetadata = {
        commandId: revocationId,
        correlationId: state.correlationId ?? revocationId,
        now: this.clock().toISOString(),
        actor: { kind: 'service', id: 'revocation' },
      };
      const command = { ...step, metadata: derivedMetadata(saga, ...stepParts(step)) } as RevocationCommand;
      let result;
      try {
        result = await handleCommand({
          store: this.store,
          decider: revocationDecider,
          stream: revocationStream(revocationId),
          command,
          logger: this.logger,
          maxRetries: 5,
        });
      } catch (error) {
        if (!isCommandRejected(error)) throw error;
        // A refusal means the view and the saga disagree; the view's next event will try again.
        const context = { event: 'revocation.step_refused', revocationId, reason: error.reason };
        this.logger.warn({ ...context, error: describeError(error) }, 'revocation step refused');
        return recorded;
      }
      // The saga's state as the log has it now: the view may not have folded this step yet.
      state = result.state;
      if (result.events.length > 0) recorded.push(step);
      if (result.events.length > 0 && state.status === 'Completed') {
        const { durationMs, correlationId } = state;
        const devices = state.deviceIds.length;
        this.logger.info(
          { event: 'revocation.completed', revocationId, devices, durationMs, correlationId },
          'revocation completed',
        );
      }
    }
  }
}
