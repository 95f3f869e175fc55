import { batchStream, policyStream } from '../shared/registry-streams.js';
import { batchCreated, policyDefined, registrySlice, type RegistrySlice } from '../test-support/registry-slice.js';
import { CreateBatchHandler } from './create-batch.handler.js';

const batch = { batchId: 'fridges-2026', name: 'fridges-2026', policyId: 'fridges', ownerId: 'acme', expectedSize: 10 };

describe('CreateBatch (slice)', () => {
  let slice: RegistrySlice;
  let handler: CreateBatchHandler;
  beforeEach(async () => {
    slice = await registrySlice();
    handler = new CreateBatchHandler(slice.store, slice.batches, slice.clock, slice.logger);
  });
  afterEach(() => slice.stop());

  it('given a defined policy, when a batch is created, then BatchCreated, in the view at the reply', async () => {
    await slice.given(policyStream('fridges'), [policyDefined]);
    await expect(handler.handle({ commandId: 'c-1', ...batch })).resolves.toEqual({ batchId: batch.batchId });
    expect(await slice.written()).toEqual([{ aggregateId: batch.batchId, type: 'BatchCreated', data: batch }]);
    expect(slice.batches.batchSummary(batch.batchId)).toMatchObject({ ...batch, devices: 0, imports: 0 });
  });

  it('given no policy, when a batch is created, then unknown-policy and nothing is written', async () => {
    await expect(handler.handle({ commandId: 'c-2', ...batch })).rejects.toMatchObject({ reason: 'unknown-policy' });
    expect(await slice.written()).toEqual([]);
  });

  it('given the batch, when created again the same way it is a retry; another definition is a CONFLICT', async () => {
    await slice.given(policyStream('fridges'), [policyDefined]);
    await slice.given(batchStream(batch.batchId), [batchCreated(batch.batchId, 10)]);
    await expect(handler.handle({ commandId: 'c-3', ...batch })).resolves.toEqual({ batchId: batch.batchId });
    await expect(handler.handle({ commandId: 'c-4', ...batch, expectedSize: 5 })).rejects.toMatchObject({
      reason: 'CONFLICT',
    });
    expect(await slice.written()).toEqual([]);
  });
});
