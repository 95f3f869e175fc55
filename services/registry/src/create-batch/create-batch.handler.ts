import { Inject, Injectable } from '@nestjs/common';
import { CreateBatch, type ResultOf } from '@tunnelkey/contracts';
import { handleCommand, load, metadataOf, type EventStore } from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { batchDecider } from '../deciders/batch.decider.js';
import { policyDecider } from '../deciders/policy.decider.js';
import type { Clock } from '../shared/clock.js';
import { commandOf } from '../shared/command-metadata.js';
import { batchStream, policyStream } from '../shared/registry-streams.js';
import { REGISTRY_CLOCK, REGISTRY_LOGGER } from '../tokens.js';
import { BatchSummaryView } from '../views/batch-summary.view.js';

@Injectable()
export class CreateBatchHandler {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly batches: BatchSummaryView,
    @Inject(REGISTRY_CLOCK) private readonly clock: Clock,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
  ) {}

  async handle(payload: unknown): Promise<ResultOf<typeof CreateBatch>> {
    const { commandId, correlationId, actor, ...batch } = CreateBatch.parse(payload);
    const metadata = metadataOf({ commandId, correlationId, actor }, this.clock());
    // The decider stays pure: the policy's state is looked up here and handed to it.
    const policy = (await load(this.store, policyDecider, policyStream(batch.policyId))).state;
    const result = await handleCommand({
      store: this.store,
      decider: batchDecider,
      stream: batchStream(batch.batchId),
      command: commandOf('CreateBatch', { ...batch, policyStatus: policy.status }, metadata),
      logger: this.logger,
    });
    // A query or an import sent right after the reply must find the batch in the view.
    await this.batches.catchUp();
    if (result.events.length > 0 && !result.alreadyHandled) {
      this.logger.info(
        {
          event: 'registry.batch_created',
          batchId: batch.batchId,
          policyId: batch.policyId,
          expectedSize: batch.expectedSize,
          commandId,
        },
        'batch created',
      );
    }
    return { batchId: batch.batchId };
  }
}
