import { randomBytes } from 'node:crypto';
import { batchStream, deviceStream, policyStream } from '../shared/registry-streams.js';
import {
  batchCreated,
  deviceImported,
  firmware,
  policyDefined,
  registrySlice,
  sliceDevice,
  sliceNow,
  uplink,
  type RegistrySlice,
} from '../test-support/registry-slice.js';
import { nonceDigestOf } from './challenge-nonces.js';
import { IdentityResponseHandler } from './identity-response.handler.js';

const nonce = randomBytes(32);
const nonceDigest = nonceDigestOf(nonce);
const expiresAt = new Date(sliceNow.getTime() + 300_000).toISOString();

describe('identity-response uplink (slice)', () => {
  let slice: RegistrySlice;
  let handler: IdentityResponseHandler;
  const device = sliceDevice();
  const response = (answer = nonce) =>
    uplink('identity-response', device.deviceId, {
      challengeId: 'c-1',
      nonce: answer.toString('base64'),
      firmwareMeasurement: firmware,
    });
  beforeEach(async () => {
    slice = await registrySlice();
    handler = new IdentityResponseHandler(slice.store, slice.deviceStates, slice.clock, slice.logger);
    await slice.given(policyStream('fridges'), [policyDefined]);
    await slice.given(batchStream('fridges-2026'), [batchCreated('fridges-2026')]);
    await slice.given(deviceStream(device.deviceId), [
      deviceImported(device, 'fridges-2026'),
      {
        type: 'IdentityChallengeIssued',
        data: { deviceId: device.deviceId, challengeId: 'c-1', nonceDigest, expiresAt },
      },
    ]);
  });
  afterEach(() => slice.stop());

  it('given a pending challenge, when the device answers its nonce, then IdentityVerified', async () => {
    await expect(handler.handle(response(), device.enrolmentKeyDigest)).resolves.toEqual({ accepted: true });
    expect(await slice.written()).toEqual([
      {
        aggregateId: device.deviceId,
        type: 'IdentityVerified',
        data: {
          deviceId: device.deviceId,
          challengeId: 'c-1',
          nonceDigest,
          enrolmentKeyDigest: device.enrolmentKeyDigest,
          firmwareMeasurement: firmware,
        },
      },
    ]);
    await slice.settled();
    expect(slice.devices.device(device.deviceId)).toMatchObject({ status: 'Verified', challengePending: false });
  });

  it('when the nonce is wrong, then IdentityVerificationFailed nonce-mismatch and a refusal', async () => {
    await expect(handler.handle(response(randomBytes(32)), device.enrolmentKeyDigest)).resolves.toMatchObject({
      accepted: false,
      code: 'nonce-mismatch',
    });
    expect(await slice.written()).toEqual([
      {
        aggregateId: device.deviceId,
        type: 'IdentityVerificationFailed',
        data: { deviceId: device.deviceId, challengeId: 'c-1', nonceDigest, reason: 'nonce-mismatch' },
      },
    ]);
  });

  it('when the answer comes too late, then expired', async () => {
    slice.setNow(new Date(sliceNow.getTime() + 600_000));
    await expect(handler.handle(response(), device.enrolmentKeyDigest)).resolves.toMatchObject({
      accepted: false,
      code: 'expired',
    });
  });

  it('when no key verified the signature, then wrong-key and nothing is written', async () => {
    await expect(handler.handle(response(), undefined)).resolves.toMatchObject({ accepted: false, code: 'wrong-key' });
    expect(await slice.written()).toEqual([]);
  });

  it('given a verified device, when the answer is replayed, then unknown-challenge, nothing written', async () => {
    await handler.handle(response(), device.enrolmentKeyDigest);
    const written = await slice.written();
    await expect(handler.handle(response(), device.enrolmentKeyDigest)).resolves.toMatchObject({
      accepted: false,
      code: 'unknown-challenge',
    });
    expect(await slice.written()).toEqual(written);
  });

  it('records an untrusted answer once per reason and keeps the challenge open', async () => {
    await handler.recordUntrustedResponse(device.deviceId, { challengeId: 'c-1' }, 'bad-signature', 7);
    await handler.recordUntrustedResponse(device.deviceId, { challengeId: 'c-1' }, 'bad-signature', 8);
    expect(await slice.written()).toEqual([
      {
        aggregateId: device.deviceId,
        type: 'IdentityVerificationFailed',
        data: { deviceId: device.deviceId, challengeId: 'c-1', nonceDigest, reason: 'bad-signature' },
      },
    ]);
    await expect(handler.handle(response(), device.enrolmentKeyDigest)).resolves.toEqual({ accepted: true });
  });
});
