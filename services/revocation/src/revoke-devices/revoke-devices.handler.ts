/**
 * RevokeDevice / RevokeBatch: the plan against the view caught up, then RevocationRequested on the
 * new revocation's stream. The CA reacts to that event, and the saga follows from there.
 */
import { Inject, Injectable } from '@nestjs/common';
import { RevokeBatch, RevokeDevice, type ResultOf } from '@tunnelkey/contracts';
import { KeyedQueue } from '@tunnelkey/concurrency';
import { handleCommand, metadataOf, type EventStore, type OperatorCommandFields } from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { revocationDecider, revocationStream } from '../deciders/revocation.decider.js';
import { CLOCK, REVOCATION_LOGGER, type Clock } from '../tokens.js';
import { RevocationStatusView, type RevocationStatusState } from '../views/revocation-status.view.js';
import { planBatchRevocation, planDeviceRevocation, type RevocationPlan } from './revoke-devices.plan.js';

export type RevocationStarted = ResultOf<typeof RevokeDevice>;

@Injectable()
export class RevokeDevicesHandler {
  /** One command at a time (one key), so two commands naming one device cannot both start a saga for it. */
  readonly #queue = new KeyedQueue();

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly view: RevocationStatusView,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(REVOCATION_LOGGER) private readonly logger: Logger,
  ) {}

  async revokeDevice(payload: unknown): Promise<RevocationStarted> {
    const command = RevokeDevice.parse(payload);
    return this.#handle(command, (view) => planDeviceRevocation(command, view));
  }

  async revokeBatch(payload: unknown): Promise<ResultOf<typeof RevokeBatch>> {
    const command = RevokeBatch.parse(payload);
    return this.#handle(command, (view) => planBatchRevocation(command, view));
  }

  #handle(command: OperatorCommandFields, plan: (view: RevocationStatusState) => RevocationPlan) {
    return this.#queue.run('revoke', async () => {
      // A device imported (or revoked) just before this command must be known.
      await this.view.catchUp(['registry', 'revocation']);
      return this.#start(plan(this.view.state), command);
    });
  }

  async #start(plan: RevocationPlan, command: OperatorCommandFields): Promise<RevocationStarted> {
    if (plan.kind === 'nothing-to-do') return plan.result;
    const { request } = plan;
    const result = await handleCommand({
      store: this.store,
      decider: revocationDecider,
      stream: revocationStream(request.revocationId),
      command: { type: 'RequestRevocation', data: request, metadata: metadataOf(command, this.clock()) },
      logger: this.logger,
    });
    // The next command, and a query right after this reply, see the revocation.
    await this.view.caughtUpToRevocation(result.version);
    const { revocationId, scope, deviceIds, reason } = request;
    const correlationId = command.correlationId ?? command.commandId;
    this.logger.info(
      { event: 'revocation.requested', revocationId, scope, devices: deviceIds.length, reason, correlationId },
      'revocation requested',
    );
    return { revocationId, devices: deviceIds.length, alreadyRevoked: plan.alreadyRevoked };
  }
}
