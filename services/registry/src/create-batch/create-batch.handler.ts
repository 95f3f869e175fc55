import { Inject, Injectable } from '@nestjs/common';
import { CreateBatch, type ResultOf } from '@tunnelkey/contracts';
import { RegistryReadModel } from '../read-model/registry-read-model.js';
import { commandOf, metadataOf } from '../shared/command-metadata.js';
import { RegistryAggregates } from '../shared/registry-aggregates.js';
import { REGISTRY_RUNTIME, type RegistryRuntime } from '../shared/registry-runtime.js';

@Injectable()
export class CreateBatchHandler {
  constructor(
    private readonly aggregates: RegistryAggregates,
    private readonly readModel: RegistryReadModel,
    @Inject(REGISTRY_RUNTIME) private readonly runtime: RegistryRuntime,
  ) {}

  async handle(payload: unknown): Promise<ResultOf<typeof CreateBatch>> {
    const { commandId, correlationId, actor, ...batch } = CreateBatch.parse(payload);
    const metadata = metadataOf({ commandId, correlationId, actor }, this.runtime.clock());
    // The decider stays pure: the policy's state is looked up here and handed to it.
    const policy = await this.aggregates.policyState(batch.policyId);
    const result = await this.aggregates.batch(commandOf('CreateBatch', { ...batch, policyStatus: policy.status }, metadata));
    // An import sent right after the reply must find the batch in the read model.
    await this.readModel.caughtUpTo(result.version);
    if (result.events.length > 0 && !result.alreadyHandled) {
      this.runtime.logger.info({ event: 'registry.batch_created', batchId: batch.batchId, policyId: batch.policyId, expectedSize: batch.expectedSize, commandId }, 'batch created');
    }
    return { batchId: batch.batchId };
  }
}
