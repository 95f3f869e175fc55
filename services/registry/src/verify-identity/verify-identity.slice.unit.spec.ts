import { batchStream, deviceStream, policyStream } from '../shared/registry-streams.js';
import {
  batchCreated,
  deviceAnnounced,
  deviceImported,
  policyDefined,
  registrySlice,
  sliceDevice,
  sliceNow,
  type RegistrySlice,
} from '../test-support/registry-slice.js';
import { nonceDigestOf } from './challenge-nonces.js';
import { VerifyIdentityHandler } from './verify-identity.handler.js';

const expiresAt = new Date(sliceNow.getTime() + 300_000).toISOString();

describe('VerifyIdentity (slice)', () => {
  let slice: RegistrySlice;
  let handler: VerifyIdentityHandler;
  const [a, b, announced] = [sliceDevice(), sliceDevice(), sliceDevice()];
  beforeEach(async () => {
    slice = await registrySlice();
    const { store, deviceStates, devices, batches, downlinks, metrics, config, clock, logger } = slice;
    handler = new VerifyIdentityHandler(
      store,
      deviceStates,
      devices,
      batches,
      downlinks,
      metrics,
      config,
      clock,
      logger,
    );
    await slice.given(policyStream('fridges'), [policyDefined]);
    await slice.given(batchStream('fridges-2026'), [batchCreated('fridges-2026')]);
    await slice.given(deviceStream(a.deviceId), [deviceImported(a, 'fridges-2026')]);
    await slice.given(deviceStream(b.deviceId), [deviceImported(b, 'fridges-2026')]);
    await slice.given(deviceStream(announced.deviceId), [deviceAnnounced(announced)]);
  });
  afterEach(() => slice.stop());

  it('given a batch, when verified, then a challenge per device (digest in the log, nonce sent)', async () => {
    await expect(
      handler.handle({ commandId: 'c-1', scope: { kind: 'batch', batchId: 'fridges-2026' } }),
    ).resolves.toEqual({ devices: 2 });
    const written = await slice.written();
    expect(written.map((e) => [e.aggregateId, e.type]).sort()).toEqual(
      [
        [a.deviceId, 'IdentityChallengeIssued'],
        [b.deviceId, 'IdentityChallengeIssued'],
      ].sort(),
    );
    for (const device of [a, b]) {
      const [sent] = slice.downlinks.to(device.deviceId, 'identity-challenge');
      const body = sent!.body as { challengeId: string; nonce: string; expiresAt: string };
      const issued = written.find((e) => e.aggregateId === device.deviceId)!.data;
      expect(issued).toEqual({
        deviceId: device.deviceId,
        challengeId: body.challengeId,
        nonceDigest: nonceDigestOf(Buffer.from(body.nonce, 'base64')),
        expiresAt,
      });
      expect(body.expiresAt).toBe(expiresAt);
    }
  });

  it('when the same command is retried, then nothing more is written and no second challenge goes out', async () => {
    await handler.handle({ commandId: 'c-2', scope: { kind: 'device', deviceId: a.deviceId } });
    const written = await slice.written();
    await expect(
      handler.handle({ commandId: 'c-2', scope: { kind: 'device', deviceId: a.deviceId } }),
    ).resolves.toEqual({ devices: 1 });
    expect(await slice.written()).toEqual(written);
  });

  it('skips devices in a list that cannot be challenged; one device asked for by id says why', async () => {
    const unknown = 'd-unknownunknownunknownunknownunkn';
    const listed = { kind: 'devices', deviceIds: [a.deviceId, announced.deviceId] };
    await expect(handler.handle({ commandId: 'c-3', scope: listed })).resolves.toEqual({ devices: 1 });
    const one = { kind: 'device', deviceId: announced.deviceId };
    await expect(handler.handle({ commandId: 'c-4', scope: one })).rejects.toMatchObject({ reason: 'not-imported' });
    await expect(
      handler.handle({ commandId: 'c-5', scope: { kind: 'device', deviceId: unknown } }),
    ).rejects.toMatchObject({ reason: 'NOT_FOUND' });
    await expect(handler.handle({ commandId: 'c-6', scope: { kind: 'batch', batchId: 'nope' } })).rejects.toMatchObject(
      { reason: 'NOT_FOUND' },
    );
    expect((await slice.written()).map((e) => e.aggregateId)).toEqual([a.deviceId]);
  });
});
