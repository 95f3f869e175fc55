import { ContractViolation } from '@tunnelkey/contracts';
import { policyStream } from '../shared/registry-streams.js';
import { registrySlice, type RegistrySlice } from '../test-support/registry-slice.js';
import { DefineServerPolicyHandler } from './define-server-policy.handler.js';

const policy = {
  policyId: 'fridges',
  name: 'Fridges on the EU broker',
  targetIds: ['mosquitto-eu'],
  topicRights: [{ topic: 'fridges/{deviceId}/#', access: 'publish-subscribe' as const }],
  certificateLifetimeDays: 365,
};
// Given as v1 (no owner): read as the default owner's.
const recorded = { ...policy, ownerId: 'default' };

describe('DefineServerPolicy (slice)', () => {
  let slice: RegistrySlice;
  let handler: DefineServerPolicyHandler;
  beforeEach(async () => {
    slice = await registrySlice();
    handler = new DefineServerPolicyHandler(slice.store, slice.clock, slice.logger);
  });
  afterEach(() => slice.stop());

  it('given no policy, when defined without an owner, then ServerPolicyDefined for the default owner and the id as reply', async () => {
    await expect(handler.handle({ commandId: 'c-1', ...policy })).resolves.toEqual({ policyId: 'fridges' });
    expect(await slice.written()).toEqual([{ aggregateId: 'fridges', type: 'ServerPolicyDefined', data: recorded }]);
  });

  it('given no policy, when defined for an owner, then ServerPolicyDefined carries that owner', async () => {
    await handler.handle({ commandId: 'c-1', ...policy, ownerId: 'acme' });
    expect(await slice.written()).toEqual([
      { aggregateId: 'fridges', type: 'ServerPolicyDefined', data: { ...policy, ownerId: 'acme' } },
    ]);
  });

  it("given another owner's policy under the same id, when defined, then CONFLICT and nothing is written", async () => {
    await slice.given(policyStream('fridges'), [{ type: 'ServerPolicyDefined', data: policy }]);
    await expect(handler.handle({ commandId: 'c-5', ...policy, ownerId: 'acme' })).rejects.toMatchObject({
      reason: 'CONFLICT',
    });
    expect(await slice.written()).toEqual([]);
  });

  it('given the same policy, when defined again (another command id), then nothing is written', async () => {
    await slice.given(policyStream('fridges'), [{ type: 'ServerPolicyDefined', data: policy }]);
    await expect(handler.handle({ commandId: 'c-2', ...policy })).resolves.toEqual({ policyId: 'fridges' });
    expect(await slice.written()).toEqual([]);
  });

  it('given the policy, when defined differently, then CONFLICT and nothing is written', async () => {
    await slice.given(policyStream('fridges'), [{ type: 'ServerPolicyDefined', data: policy }]);
    await expect(handler.handle({ commandId: 'c-3', ...policy, certificateLifetimeDays: 30 })).rejects.toMatchObject({
      reason: 'CONFLICT',
    });
    expect(await slice.written()).toEqual([]);
  });

  it('refuses a malformed command before anything is written', async () => {
    await expect(handler.handle({ commandId: 'c-4', policyId: 'fridges' })).rejects.toBeInstanceOf(ContractViolation);
    expect(await slice.written()).toEqual([]);
  });
});
