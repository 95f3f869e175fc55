import { Inject, Injectable } from '@nestjs/common';
import { DefineServerPolicy, type ResultOf } from '@tunnelkey/contracts';
import { commandOf, metadataOf } from '../shared/command-metadata.js';
import { RegistryAggregates } from '../shared/registry-aggregates.js';
import { REGISTRY_RUNTIME, type RegistryRuntime } from '../shared/registry-runtime.js';

@Injectable()
export class DefineServerPolicyHandler {
  constructor(
    private readonly aggregates: RegistryAggregates,
    @Inject(REGISTRY_RUNTIME) private readonly runtime: RegistryRuntime,
  ) {}

  async handle(payload: unknown): Promise<ResultOf<typeof DefineServerPolicy>> {
    const { commandId, correlationId, actor, ...policy } = DefineServerPolicy.parse(payload);
    const metadata = metadataOf({ commandId, correlationId, actor }, this.runtime.clock());
    const result = await this.aggregates.policy(commandOf('DefineServerPolicy', policy, metadata));
    if (result.events.length > 0 && !result.alreadyHandled) {
      this.runtime.logger.info({ event: 'registry.policy_defined', policyId: policy.policyId, commandId }, 'server policy defined');
    }
    return { policyId: policy.policyId };
  }
}
