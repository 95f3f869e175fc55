/**
 * SetRenewalPolicy: when a server policy's certificates renew (a share of their lifetime, with
 * jitter) and, optionally, a lifetime in seconds instead of days (short-lived certificates, down
 * to one hour). Recorded on the policy's own stream (RenewalPolicyDefined); the CA reads it for
 * issuance lifetimes and scheduled renewals.
 */
import { Inject, Injectable } from '@nestjs/common';
import { SetRenewalPolicy, type ResultOf } from '@tunnelkey/contracts';
import { handleCommand, metadataOf, type EventStore } from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { policyDecider } from '../deciders/policy.decider.js';
import type { Clock } from '../shared/clock.js';
import { commandOf } from '../shared/command-metadata.js';
import { policyStream } from '../shared/registry-streams.js';
import { REGISTRY_CLOCK, REGISTRY_LOGGER } from '../tokens.js';

@Injectable()
export class SetRenewalPolicyHandler {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(REGISTRY_CLOCK) private readonly clock: Clock,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
  ) {}

  async handle(payload: unknown): Promise<ResultOf<typeof SetRenewalPolicy>> {
    const { commandId, correlationId, actor, ...settings } = SetRenewalPolicy.parse(payload);
    const metadata = metadataOf({ commandId, correlationId, actor }, this.clock());
    const result = await handleCommand({
      store: this.store,
      decider: policyDecider,
      stream: policyStream(settings.policyId),
      command: commandOf('SetRenewalPolicy', settings, metadata),
      logger: this.logger,
    });
    if (result.events.length > 0 && !result.alreadyHandled)
      this.logger.info(
        { event: 'registry.renewal_policy_set', policyId: settings.policyId, commandId },
        'renewal policy set',
      );
    return { policyId: settings.policyId };
  }
}
