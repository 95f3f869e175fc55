import type { InMemoryEventStore } from '@tunnelkey/eventstore';
import { batchStream, deviceStream, policyStream } from '../shared/registry-streams.js';
import {
  batchCreated,
  deviceAnnounced,
  deviceImported,
  policyDefined,
  registrySlice,
  sliceDevice,
  sliceNow,
  uplink,
  type RegistrySlice,
  type SliceDevice,
} from '../test-support/registry-slice.js';
import { nonceDigestOf } from './challenge-nonces.js';
import { IdentityChallengesJob } from './identity-challenges.job.js';
import { IdentityResponseHandler } from './identity-response.handler.js';
import { UnansweredChallengesJob } from './unanswered-challenges.job.js';
import { VerifyIdentityHandler } from './verify-identity.handler.js';

const expiresAt = new Date(sliceNow.getTime() + 300_000).toISOString();
const at = (seconds: number) => new Date(sliceNow.getTime() + seconds * 1000);

/** The registry's verify-identity slice: the command handler, its window, the answers' handler. */
async function verifySlice(options: { store?: InMemoryEventStore; env?: Record<string, string> } = {}) {
  const slice = await registrySlice(options);
  const { store, deviceStates, devices, queuedChallenges, batches, downlinks, metrics, config, clock, logger } = slice;
  const unanswered = new UnansweredChallengesJob(store, devices, deviceStates, config, clock, logger);
  const job = new IdentityChallengesJob(
    store,
    devices,
    queuedChallenges,
    deviceStates,
    unanswered,
    downlinks,
    metrics,
    config,
    clock,
    logger,
  );
  const handler = new VerifyIdentityHandler(store, devices, batches, job, clock, logger);
  const responses = new IdentityResponseHandler(store, deviceStates, clock, logger);
  const challengesTo = (device: SliceDevice) =>
    slice.downlinks
      .to(device.deviceId, 'identity-challenge')
      .map((m) => m.body as { challengeId: string; nonce: string; expiresAt: string });
  return {
    slice,
    job,
    handler,
    challengesTo,
    /** The device answers `challenge` (its signature already checked, as the uplink controller hands it over). */
    async answer(device: SliceDevice, challenge: { challengeId: string; nonce: string }) {
      const body = { challengeId: challenge.challengeId, nonce: challenge.nonce };
      const outcome = await responses.handle(
        uplink('identity-response', device.deviceId, body),
        device.enrolmentKeyDigest,
      );
      await slice.settled(); // the view sees the answer: the window frees the slot
      await job.idle();
      return outcome;
    },
    /** Moves the clock and runs one sweep of the window. */
    async sweepAt(seconds: number) {
      slice.setNow(at(seconds));
      await job.sweep();
      await slice.settled();
      await job.idle();
    },
    async stop() {
      await job.onModuleDestroy();
      await slice.stop();
    },
  };
}

type VerifySlice = Awaited<ReturnType<typeof verifySlice>>;

async function givenFleet(slice: RegistrySlice, devices: readonly SliceDevice[]) {
  await slice.given(policyStream('fridges'), [policyDefined]);
  await slice.given(batchStream('fridges-2026'), [batchCreated('fridges-2026', 100)]);
  for (const device of devices)
    await slice.given(deviceStream(device.deviceId), [deviceImported(device, 'fridges-2026')]);
}

/** What was written on the devices' streams (not the commands' queued devices). */
const deviceWrites = async (slice: RegistrySlice) =>
  (await slice.written()).filter((e) => e.type !== 'IdentityChallengesQueued');
const types = async (slice: RegistrySlice) => (await deviceWrites(slice)).map((e) => [e.aggregateId, e.type]);

describe('VerifyIdentity (slice)', () => {
  let v: VerifySlice;
  const [a, b, announced] = [sliceDevice(), sliceDevice(), sliceDevice()];
  beforeEach(async () => {
    v = await verifySlice();
    await givenFleet(v.slice, [a, b]);
    await v.slice.given(deviceStream(announced.deviceId), [deviceAnnounced(announced)]);
  });
  afterEach(() => v.stop());

  it('given a batch, when verified, then a challenge per device (digest in the log, nonce sent)', async () => {
    await expect(
      v.handler.handle({ commandId: 'c-1', scope: { kind: 'batch', batchId: 'fridges-2026' } }),
    ).resolves.toEqual({ devices: 2 });
    await v.job.idle();
    const all = await v.slice.written();
    // The devices owed a challenge are recorded first, on the command's own stream.
    expect(all[0]).toMatchObject({ aggregateId: 'c-1', type: 'IdentityChallengesQueued' });
    expect([...(all[0]!.data as { deviceIds: string[] }).deviceIds].sort()).toEqual([a.deviceId, b.deviceId].sort());
    const written = await deviceWrites(v.slice);
    expect(written.map((e) => [e.aggregateId, e.type]).sort()).toEqual(
      [
        [a.deviceId, 'IdentityChallengeIssued'],
        [b.deviceId, 'IdentityChallengeIssued'],
      ].sort(),
    );
    for (const device of [a, b]) {
      const [body] = v.challengesTo(device);
      const issued = written.find((e) => e.aggregateId === device.deviceId)!.data;
      expect(issued).toEqual({
        deviceId: device.deviceId,
        challengeId: body!.challengeId,
        nonceDigest: nonceDigestOf(Buffer.from(body!.nonce, 'base64')),
        expiresAt,
      });
      expect(body!.expiresAt).toBe(expiresAt);
    }
  });

  it('when the same command is retried, then nothing more is written: the same challenge is sent again', async () => {
    await v.handler.handle({ commandId: 'c-2', scope: { kind: 'device', deviceId: a.deviceId } });
    await v.job.idle();
    const written = await v.slice.written();
    await expect(
      v.handler.handle({ commandId: 'c-2', scope: { kind: 'device', deviceId: a.deviceId } }),
    ).resolves.toEqual({ devices: 1 });
    await v.job.idle();
    expect(await v.slice.written()).toEqual(written);
    const [first, again] = v.challengesTo(a);
    expect(again).toEqual(first);
    expect(v.job.outstanding).toBe(1);
  });

  it('skips devices in a list that cannot be challenged; one device asked for by id says why', async () => {
    const unknown = 'd-unknownunknownunknownunknownunkn';
    const listed = { kind: 'devices', deviceIds: [a.deviceId, announced.deviceId] };
    await expect(v.handler.handle({ commandId: 'c-3', scope: listed })).resolves.toEqual({ devices: 1 });
    const one = { kind: 'device', deviceId: announced.deviceId };
    await expect(v.handler.handle({ commandId: 'c-4', scope: one })).rejects.toMatchObject({ reason: 'not-imported' });
    await expect(
      v.handler.handle({ commandId: 'c-5', scope: { kind: 'device', deviceId: unknown } }),
    ).rejects.toMatchObject({ reason: 'NOT_FOUND' });
    await expect(
      v.handler.handle({ commandId: 'c-6', scope: { kind: 'batch', batchId: 'nope' } }),
    ).rejects.toMatchObject({ reason: 'NOT_FOUND' });
    await v.job.idle();
    expect((await deviceWrites(v.slice)).map((e) => e.aggregateId)).toEqual([a.deviceId]);
  });

  it('a lost challenge is sent again (same challenge) at doubling intervals, then answered once', async () => {
    await v.handler.handle({ commandId: 'c-7', scope: { kind: 'device', deviceId: a.deviceId } });
    await v.job.idle();
    expect(v.challengesTo(a)).toHaveLength(1); // lost on the way: the device never answers it
    await v.sweepAt(29);
    expect(v.challengesTo(a)).toHaveLength(1);
    await v.sweepAt(30);
    expect(v.challengesTo(a)).toHaveLength(2);
    await v.sweepAt(89); // the wait doubled: 60 s after the second send
    expect(v.challengesTo(a)).toHaveLength(2);
    await v.sweepAt(90);
    const sent = v.challengesTo(a);
    expect(sent).toHaveLength(3);
    expect(new Set(sent.map((s) => JSON.stringify(s))).size).toBe(1); // the same challengeId and nonce each time
    expect(await types(v.slice)).toEqual([[a.deviceId, 'IdentityChallengeIssued']]);

    // The device got the second and third copies: it answers both; the first verifies, the copy finds no challenge.
    await expect(v.answer(a, sent[1]!)).resolves.toMatchObject({ accepted: true });
    await expect(v.answer(a, sent[2]!)).resolves.toMatchObject({ accepted: false, code: 'unknown-challenge' });
    expect(await types(v.slice)).toEqual([
      [a.deviceId, 'IdentityChallengeIssued'],
      [a.deviceId, 'IdentityVerified'],
    ]);
    expect(v.job.outstanding).toBe(0);
    await v.sweepAt(400);
    expect(v.challengesTo(a)).toHaveLength(3); // answered: never sent again, never given up
    expect(v.slice.devices.device(a.deviceId)).toMatchObject({ status: 'Verified', challengePending: false });
  });

  it('a challenge unanswered until it expires records no-response and leaves the window', async () => {
    await v.handler.handle({ commandId: 'c-8', scope: { kind: 'device', deviceId: a.deviceId } });
    await v.job.idle();
    await v.sweepAt(299);
    expect(await types(v.slice)).toEqual([[a.deviceId, 'IdentityChallengeIssued']]);
    await v.sweepAt(300);
    const written = await deviceWrites(v.slice);
    expect(written.map((e) => e.type)).toEqual(['IdentityChallengeIssued', 'IdentityVerificationFailed']);
    expect(written[1]!.data).toMatchObject({ deviceId: a.deviceId, reason: 'no-response' });
    expect(v.job.outstanding).toBe(0);
    const sends = v.challengesTo(a).length;
    await v.sweepAt(1_000);
    expect(v.challengesTo(a)).toHaveLength(sends);
  });

  it('a device revoked while challenged leaves the window and is not sent its challenge again', async () => {
    await v.handler.handle({ commandId: 'c-9', scope: { kind: 'device', deviceId: a.deviceId } });
    await v.job.idle();
    expect(v.job.outstanding).toBe(1);
    await v.slice.given(deviceStream(a.deviceId), [
      {
        type: 'DeviceRevoked',
        data: {
          deviceId: a.deviceId,
          revocationId: 'rv-1',
          reason: 'keyCompromise',
          revokedAt: sliceNow.toISOString(),
        },
      },
    ]);
    expect(v.job.outstanding).toBe(0);
    await v.sweepAt(30);
    await v.sweepAt(400);
    expect(v.challengesTo(a)).toHaveLength(1);
    expect(await types(v.slice)).toEqual([]);
  });
});

describe('VerifyIdentity window (slice)', () => {
  const fleet = Array.from({ length: 7 }, () => sliceDevice());
  let v: VerifySlice;
  afterEach(() => v.stop());

  it('keeps at most REGISTRY_CHALLENGE_WINDOW challenges outstanding; each answer lets the next device in', async () => {
    v = await verifySlice({ env: { REGISTRY_CHALLENGE_WINDOW: '3' } });
    await givenFleet(v.slice, fleet);
    await expect(
      v.handler.handle({ commandId: 'c-w', scope: { kind: 'batch', batchId: 'fridges-2026' } }),
    ).resolves.toEqual({ devices: 7 });
    await v.job.idle();
    const challenged = () => fleet.filter((d) => v.challengesTo(d).length > 0);
    expect(challenged()).toHaveLength(3);
    expect([v.job.outstanding, v.job.queued]).toEqual([3, 4]);
    expect((await v.slice.written()).filter((e) => e.type === 'IdentityChallengeIssued')).toHaveLength(3);

    // The devices answer as they are asked; never more than 3 challenges pending at once.
    let answered = 0;
    while (answered < fleet.length) {
      const pending = challenged().filter((d) => v.slice.devices.device(d.deviceId)?.status !== 'Verified');
      expect(pending.length).toBeLessThanOrEqual(3);
      expect(v.job.outstanding).toBeLessThanOrEqual(3);
      const [next] = pending;
      expect(next).toBeDefined();
      await expect(v.answer(next!, v.challengesTo(next!)[0]!)).resolves.toMatchObject({ accepted: true });
      answered++;
    }
    expect(fleet.every((d) => v.slice.devices.device(d.deviceId)?.status === 'Verified')).toBe(true);
    expect([v.job.outstanding, v.job.queued]).toEqual([0, 0]);
    // Each challenge's expiry counts from when it was sent, not from the command.
    expect(fleet.every((d) => v.challengesTo(d).length === 1)).toBe(true);
  });

  it('a replica re-issues the challenges a crashed one left pending, two retry waits after they were issued', async () => {
    v = await verifySlice();
    const [a, b] = fleet;
    await givenFleet(v.slice, [a!, b!]);
    // The second instance, running all along on the same log: its own views, window and nonce secret.
    const survivor = await verifySlice({ store: v.slice.store });
    try {
      await v.handler.handle({ commandId: 'c-t', scope: { kind: 'devices', deviceIds: [a!.deviceId] } });
      await v.job.idle();
      const [old] = v.challengesTo(a!);
      await v.stop(); // crashed: its nonce secret and its window are gone
      await survivor.slice.settled();
      await survivor.sweepAt(59);
      expect(survivor.challengesTo(a!)).toHaveLength(0); // its owner may still be sending it
      await survivor.sweepAt(60);
      await survivor.job.idle();
      const [taken] = survivor.challengesTo(a!);
      expect(taken!.challengeId).not.toBe(old!.challengeId);
      expect(taken!.expiresAt).toBe(old!.expiresAt);
      await expect(survivor.answer(a!, taken!)).resolves.toMatchObject({ accepted: true });
      // Its own challenges it does not take over from itself; b was never asked.
      await survivor.sweepAt(200);
      expect(survivor.challengesTo(a!)).toHaveLength(1);
      expect(survivor.challengesTo(b!)).toHaveLength(0);
    } finally {
      await survivor.stop();
    }
  });

  it('after a restart the devices queued and never challenged are challenged (recorded before the answer), each once', async () => {
    v = await verifySlice({ env: { REGISTRY_CHALLENGE_WINDOW: '1' } });
    const [a, b, c] = fleet;
    await givenFleet(v.slice, [a!, b!, c!]);
    await v.handler.handle({
      commandId: 'c-q',
      scope: { kind: 'devices', deviceIds: [a!, b!, c!].map((d) => d.deviceId) },
    });
    await v.job.idle();
    expect([v.job.outstanding, v.job.queued]).toEqual([1, 2]); // b and c: in memory, and in the log as queued
    const store = v.slice.store;
    await v.stop();

    v = await verifySlice({ store, env: { REGISTRY_CHALLENGE_WINDOW: '3' } });
    expect(v.job.resume()).toBe(3); // a's pending challenge re-issued; b and c challenged
    await v.job.idle();
    for (const device of [a!, b!, c!]) {
      const sent = v.challengesTo(device);
      expect(sent).toHaveLength(1);
      await expect(v.answer(device, sent[0]!)).resolves.toMatchObject({ accepted: true });
    }
    const issued = (await deviceWrites(v.slice)).filter((e) => e.type === 'IdentityChallengeIssued');
    expect(issued.map((e) => e.aggregateId).sort()).toEqual([a!, a!, b!, c!].map((d) => d.deviceId).sort());
    // Nothing owed any more: another start challenges nobody.
    expect(v.job.resume()).toBe(0);
  });

  it('a replica challenges the devices a crashed one queued, two retry waits after the command', async () => {
    v = await verifySlice({ env: { REGISTRY_CHALLENGE_WINDOW: '1' } });
    const [a, b, c] = fleet;
    await givenFleet(v.slice, [a!, b!, c!]);
    const survivor = await verifySlice({ store: v.slice.store, env: { REGISTRY_CHALLENGE_WINDOW: '3' } });
    try {
      await v.handler.handle({
        commandId: 'c-s',
        scope: { kind: 'devices', deviceIds: [a!, b!, c!].map((d) => d.deviceId) },
      });
      await v.job.idle();
      await v.stop(); // crashed with b and c never challenged
      await survivor.slice.settled();
      await survivor.sweepAt(59);
      expect([a!, b!, c!].map((d) => survivor.challengesTo(d).length)).toEqual([0, 0, 0]);
      await survivor.sweepAt(60);
      expect([a!, b!, c!].map((d) => survivor.challengesTo(d).length)).toEqual([1, 1, 1]);
      for (const device of [b!, c!])
        await expect(survivor.answer(device, survivor.challengesTo(device)[0]!)).resolves.toMatchObject({
          accepted: true,
        });
      // Answered devices are not challenged again at later sweeps.
      await survivor.sweepAt(61);
      await survivor.sweepAt(200);
      expect([b!, c!].map((d) => survivor.challengesTo(d).length)).toEqual([1, 1]);
      const issued = (await deviceWrites(survivor.slice)).filter((e) => e.type === 'IdentityChallengeIssued');
      expect(issued.filter((e) => e.aggregateId === b!.deviceId)).toHaveLength(1);
    } finally {
      await survivor.stop();
    }
  });

  it('after a restart the pending challenges are re-issued (new nonce, same expiry); an answer to the old one matches nothing', async () => {
    v = await verifySlice({ env: { REGISTRY_CHALLENGE_WINDOW: '2' } });
    const [a, b, c] = fleet;
    await givenFleet(v.slice, [a!, b!, c!]);
    await v.handler.handle({
      commandId: 'c-r',
      scope: { kind: 'devices', deviceIds: [a!, b!, c!].map((d) => d.deviceId) },
    });
    await v.job.idle();
    await expect(v.answer(a!, v.challengesTo(a!)[0]!)).resolves.toMatchObject({ accepted: true });
    const [oldB] = v.challengesTo(b!); // b received it; c is challenged once a's slot is free
    const [oldC] = v.challengesTo(c!);
    expect(oldC).toBeDefined();
    const store = v.slice.store;
    v.slice.setNow(at(60));
    await v.stop(); // the process and its nonce secret are gone

    v = await verifySlice({ store, env: { REGISTRY_CHALLENGE_WINDOW: '2' } });
    v.slice.setNow(at(60));
    expect(v.job.resume()).toBe(2);
    await v.job.idle();
    const [newB] = v.challengesTo(b!);
    const [newC] = v.challengesTo(c!);
    expect(newB!.challengeId).not.toBe(oldB!.challengeId);
    expect(newB!.nonce).not.toBe(oldB!.nonce);
    expect(newB!.expiresAt).toBe(oldB!.expiresAt);
    const issued = (await v.slice.written()).filter((e) => e.type === 'IdentityChallengeIssued');
    expect(issued.map((e) => e.data)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ deviceId: b!.deviceId, challengeId: newB!.challengeId, expiresAt: oldB!.expiresAt }),
        expect.objectContaining({ deviceId: c!.deviceId, challengeId: newC!.challengeId }),
      ]),
    );
    expect(issued).toHaveLength(3 + 2); // a, b, c before the restart; b and c re-issued once

    // The old challenge is closed for good; the new one verifies once.
    await expect(v.answer(b!, oldB!)).resolves.toMatchObject({ accepted: false, code: 'unknown-challenge' });
    await expect(v.answer(b!, newB!)).resolves.toMatchObject({ accepted: true });
    await expect(v.answer(b!, newB!)).resolves.toMatchObject({ accepted: false, code: 'unknown-challenge' });
    // A second resume (another instance starting) re-issues nothing already answered, nor twice.
    expect(v.job.resume()).toBe(0);
    // c stays in the window: sent again after the retry wait, and no-response at the first expiry.
    await v.sweepAt(90);
    expect(v.challengesTo(c!)).toHaveLength(2);
    await v.sweepAt(300);
    const after = await v.slice.written();
    expect(
      after
        .filter((e) => e.type === 'IdentityVerificationFailed')
        .map((e) => [e.aggregateId, (e.data as { reason: string }).reason]),
    ).toEqual([[c!.deviceId, 'no-response']]);
    expect(v.job.outstanding).toBe(0);
  });

  it('a batch over 1,000 devices is queued in parts, its command stream read once (not once per part)', async () => {
    const v = await verifySlice();
    try {
      const fleet = Array.from({ length: 2_001 }, () => sliceDevice());
      await v.slice.given(policyStream('fridges'), [policyDefined]);
      await v.slice.given(batchStream('big'), [batchCreated('big', fleet.length)]);
      for (const device of fleet) await v.slice.given(deviceStream(device.deviceId), [deviceImported(device, 'big')]);
      const store = v.slice.store;
      const read = store.read.bind(store);
      let commandReads = 0;
      store.read = (stream, options) => {
        if (stream.aggregate === 'verification') commandReads++;
        return read(stream, options);
      };
      await expect(v.handler.handle({ commandId: 'c-big', scope: { kind: 'batch', batchId: 'big' } })).resolves.toEqual(
        {
          devices: fleet.length,
        },
      );
      const queued = (await v.slice.written()).filter((e) => e.type === 'IdentityChallengesQueued');
      expect(queued.map((e) => (e.data as { deviceIds: string[] }).deviceIds.length)).toEqual([1_000, 1_000, 1]);
      expect(new Set(queued.flatMap((e) => (e.data as { deviceIds: string[] }).deviceIds)).size).toBe(fleet.length);
      expect(commandReads).toBe(1);
    } finally {
      await v.stop();
    }
  });
});
