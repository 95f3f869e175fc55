/**
 * SetIntegrityPolicy: how often a server policy's devices send a heartbeat, how much silence is a
 * violation and what a violation does (alert, quarantine, revoke). Recorded on the policy's own
 * stream (IntegrityPolicyDefined); the integrity monitor reads it (views/integrity.view.ts).
 */
import { Inject, Injectable } from '@nestjs/common';
import { SetIntegrityPolicy, type ResultOf } from '@tunnelkey/contracts';
import { handleCommand, metadataOf, type EventStore } from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { policyDecider } from '../deciders/policy.decider.js';
import type { Clock } from '../shared/clock.js';
import { commandOf } from '../shared/command-metadata.js';
import { policyStream } from '../shared/registry-streams.js';
import { REGISTRY_CLOCK, REGISTRY_LOGGER } from '../tokens.js';

@Injectable()
export class SetIntegrityPolicyHandler {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(REGISTRY_CLOCK) private readonly clock: Clock,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
  ) {}

  async handle(payload: unknown): Promise<ResultOf<typeof SetIntegrityPolicy>> {
    const { commandId, correlationId, actor, ...settings } = SetIntegrityPolicy.parse(payload);
    const metadata = metadataOf({ commandId, correlationId, actor }, this.clock());
    const result = await handleCommand({
      store: this.store,
      decider: policyDecider,
      stream: policyStream(settings.policyId),
      command: commandOf('SetIntegrityPolicy', settings, metadata),
      logger: this.logger,
    });
    if (result.events.length > 0 && !result.alreadyHandled)
      this.logger.info(
        { event: 'registry.integrity_policy_set', policyId: settings.policyId, commandId },
        'integrity policy set',
      );
    return { policyId: settings.policyId };
  }
}
