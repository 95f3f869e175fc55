import type { StreamRef } from '@tunnelkey/eventstore';
import { batchStream, deviceStream, policyStream } from '../shared/registry-streams.js';
import {
  batchCreated,
  deviceImported,
  policyDefined,
  registrySlice,
  sliceDevice,
  type RegistrySlice,
} from '../test-support/registry-slice.js';
import { RevocationStepsReaction } from './revocation-steps.reaction.js';
import { RevokeDevicesHandler } from './revoke-devices.handler.js';

const revocation = (id: string): StreamRef => ({ context: 'revocation', aggregate: 'revocation', id });
const step = (revocationId: string, name: string, targetId?: string) => ({
  type: 'RevocationStepCompleted',
  data: { revocationId, step: name, devices: 1, ...(targetId ? { targetId } : {}) },
});

describe('revocation steps reaction (slice)', () => {
  let slice: RegistrySlice;
  let reaction: RevocationStepsReaction;
  const [a, b, unknown] = [sliceDevice(), sliceDevice(), sliceDevice()];
  const requested = (revocationId: string, deviceIds: string[]) => ({
    type: 'RevocationRequested',
    data: { revocationId, scope: 'device', deviceIds, reason: 'keyCompromise' },
  });
  beforeEach(async () => {
    slice = await registrySlice();
    const handler = new RevokeDevicesHandler(slice.store, slice.config, slice.clock, slice.logger);
    reaction = new RevocationStepsReaction(slice.store, slice.streams, handler, slice.logger);
    await reaction.onApplicationBootstrap();
    await slice.given(policyStream('fridges'), [policyDefined]);
    await slice.given(batchStream('fridges-2026'), [batchCreated('fridges-2026')]);
    await slice.given(deviceStream(a.deviceId), [deviceImported(a, 'fridges-2026')]);
    await slice.given(deviceStream(b.deviceId), [deviceImported(b, 'fridges-2026')]);
  });
  afterEach(async () => {
    await reaction.onModuleDestroy();
    await slice.stop();
  });

  it('never parks a step its handler keeps failing on: the delivery policy is retry-forever', () => {
    expect(reaction.delivery).toBe('retry-forever');
  });

  it('given a revocation, when its targets are cut off, then each known device is Revoked', async () => {
    await slice.given(revocation('rv-1'), [
      requested('rv-1', [a.deviceId, unknown.deviceId, b.deviceId]),
      step('rv-1', 'certificates-revoked'),
      step('rv-1', 'targets-deprovisioned', 'mosquitto-eu'),
    ]);
    await reaction.caughtUp();
    expect(await slice.written()).toEqual([]);

    await slice.given(revocation('rv-1'), [step('rv-1', 'targets-deprovisioned')]);
    await reaction.caughtUp();
    const written = await slice.written();
    expect(written.map((e) => [e.aggregateId, e.type]).sort()).toEqual(
      [
        [a.deviceId, 'DeviceRevoked'],
        [b.deviceId, 'DeviceRevoked'],
      ].sort(),
    );
    expect(written[0]!.data).toMatchObject({ revocationId: 'rv-1', reason: 'keyCompromise' });
    // The batch's counts move with its devices: revoked devices stay in the batch, under Revoked.
    await slice.devices.catchUp();
    expect(slice.batches.batchSummary('fridges-2026')).toMatchObject({
      devices: 2,
      byStatus: { Imported: 0, Revoked: 2 },
    });
  });

  it('when the step comes again or another revocation names the device, then nothing is written', async () => {
    await slice.given(revocation('rv-2'), [requested('rv-2', [a.deviceId]), step('rv-2', 'targets-deprovisioned')]);
    await reaction.caughtUp();
    const written = await slice.written();
    expect(written).toHaveLength(1);
    await slice.given(revocation('rv-2'), [step('rv-2', 'targets-deprovisioned')]);
    await slice.given(revocation('rv-3'), [requested('rv-3', [a.deviceId]), step('rv-3', 'targets-deprovisioned')]);
    await reaction.caughtUp();
    expect(await slice.written()).toEqual(written);
  });
});
