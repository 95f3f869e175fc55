import { Inject, Injectable } from '@nestjs/common';
import { DefineServerPolicy, defaultOwnerId, type ResultOf } from '@tunnelkey/contracts';
import { handleCommand, metadataOf, type EventStore } from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { policyDecider } from '../deciders/policy.decider.js';
import type { Clock } from '../shared/clock.js';
import { commandOf } from '../shared/command-metadata.js';
import { policyStream } from '../shared/registry-streams.js';
import { REGISTRY_CLOCK, REGISTRY_LOGGER } from '../tokens.js';

@Injectable()
export class DefineServerPolicyHandler {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(REGISTRY_CLOCK) private readonly clock: Clock,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
  ) {}

  async handle(payload: unknown): Promise<ResultOf<typeof DefineServerPolicy>> {
    const { commandId, correlationId, actor, ownerId, ...definition } = DefineServerPolicy.parse(payload);
    const policy = { ...definition, ownerId: ownerId ?? defaultOwnerId };
    const metadata = metadataOf({ commandId, correlationId, actor }, this.clock());
    const result = await handleCommand({
      store: this.store,
      decider: policyDecider,
      stream: policyStream(policy.policyId),
      command: commandOf('DefineServerPolicy', policy, metadata),
      logger: this.logger,
    });
    if (result.events.length > 0 && !result.alreadyHandled) {
      this.logger.info(
        { event: 'registry.policy_defined', policyId: policy.policyId, commandId },
        'server policy defined',
      );
    }
    return { policyId: policy.policyId };
  }
}
