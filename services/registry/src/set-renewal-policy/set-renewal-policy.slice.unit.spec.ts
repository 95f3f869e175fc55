import { ContractViolation } from '@tunnelkey/contracts';
import { policyStream } from '../shared/registry-streams.js';
import { registrySlice, type RegistrySlice } from '../test-support/registry-slice.js';
import { SetRenewalPolicyHandler } from './set-renewal-policy.handler.js';

const policy = {
  policyId: 'fridges',
  name: 'Fridges on the EU broker',
  targetIds: ['mosquitto-eu'],
  topicRights: [{ topic: 'fridges/{deviceId}/#', access: 'publish-subscribe' as const }],
  certificateLifetimeDays: 365,
};

describe('SetRenewalPolicy (slice)', () => {
  let slice: RegistrySlice;
  let handler: SetRenewalPolicyHandler;
  beforeEach(async () => {
    slice = await registrySlice();
    handler = new SetRenewalPolicyHandler(slice.store, slice.clock, slice.logger);
  });
  afterEach(() => slice.stop());

  it('given a policy, when set to one-hour certificates renewed at half their life, then RenewalPolicyDefined', async () => {
    await slice.given(policyStream('fridges'), [{ type: 'ServerPolicyDefined', data: policy }]);
    const settings = { policyId: 'fridges', renewAtShare: 0.5, jitterShare: 0.2, certificateLifetimeSeconds: 3600 };
    await expect(handler.handle({ commandId: 'c-1', ...settings })).resolves.toEqual({ policyId: 'fridges' });
    expect(await slice.written()).toEqual([{ aggregateId: 'fridges', type: 'RenewalPolicyDefined', data: settings }]);
  });

  it('given no policy, then NOT_FOUND and nothing is written', async () => {
    await expect(handler.handle({ commandId: 'c-2', policyId: 'nope' })).rejects.toMatchObject({ reason: 'NOT_FOUND' });
    expect(await slice.written()).toEqual([]);
  });

  it('refuses a lifetime under one hour or a share outside its bounds, and writes nothing', async () => {
    await slice.given(policyStream('fridges'), [{ type: 'ServerPolicyDefined', data: policy }]);
    await expect(
      handler.handle({ commandId: 'c-3', policyId: 'fridges', certificateLifetimeSeconds: 600 }),
    ).rejects.toBeInstanceOf(ContractViolation);
    await expect(handler.handle({ commandId: 'c-4', policyId: 'fridges', renewAtShare: 1 })).rejects.toBeInstanceOf(
      ContractViolation,
    );
    expect(await slice.written()).toEqual([]);
  });
});
