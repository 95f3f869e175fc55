import { jest } from '@jest/globals';
import { StoreUnavailableError } from '@tunnelkey/eventstore';
import { waitFor } from '@tunnelkey/testing';
import { OnboardingCommandRejected } from '../errors.js';
import { DeviceWriter } from '../shared/device-writer.js';
import { rights, startOnboardingSlice, type OnboardingSlice } from '../test-support/onboarding-slice.test-helper.js';
import { OnboardDevicesHandler } from './onboard-devices.handler.js';

const data = (events: { data: unknown }[]) => events.map((e) => e.data as Record<string, unknown>);

describe('onboard-devices slice (in-memory store and targets)', () => {
  let slice: OnboardingSlice;
  let handler: OnboardDevicesHandler;

  beforeEach(async () => {
    slice = await startOnboardingSlice({ config: { onboardChunkSize: 2 } });
    handler = slice.get(OnboardDevicesHandler);
    const { given } = slice;
    await given.policy('p-fridges', ['broker-a', 'broker-b']);
    await given.batch('b-fridges', 'p-fridges', ['d-1', 'd-2', 'd-3', 'd-4', 'd-5']);
    for (const deviceId of ['d-1', 'd-2', 'd-3', 'd-5']) await given.certified(deviceId);
    await given.crl(1);
    await given.crl(2);
    await given.revoked('d-5', 'rv-1');
    await slice.registerTarget('broker-a');
    await slice.registerTarget('broker-b');
  });
  afterEach(() => slice.close());

  it('OnboardBatch: trust, then devices in chunks on every target; outcomes recorded, parameters sent', async () => {
    const started = await handler.onboardBatch({ commandId: 'onboard-1', batchId: 'b-fridges' });
    expect(started.devices).toBe(5);
    await expect(started.done).resolves.toMatchObject({ onboarded: 6, failed: 4 });

    for (const targetId of ['broker-a', 'broker-b']) {
      const target = slice.targets.target(targetId);
      // The target's own CA and its first CRL, and the policy's rights: nothing per device.
      expect(target.trustApplied).toEqual([
        {
          anchors: [{ authorityId: `tca-${targetId}`, chainPem: [expect.any(String)] }],
          crls: [expect.objectContaining({ authorityId: `tca-${targetId}`, crlNumber: 1 })],
          topicRights: expect.arrayContaining(rights),
        },
      ]);
      expect(target.calls).toEqual(['applyTrust', 'registerDevices', 'registerDevices']);
      expect(target.registerRequests).toEqual([2, 1]); // chunks of ONBOARDING_CHUNK_SIZE
      expect([...target.devices.keys()].sort()).toEqual(['d-1', 'd-2', 'd-3']);
    }
    expect(data(await slice.events('TargetTrustAnchorInstalled'))).toHaveLength(2);
    expect(data(await slice.events('TargetCrlUpdated')).map((d) => d.crlNumber)).toEqual([1, 1]);
    const onboarded = await slice.events('DeviceOnboarded');
    expect(data(onboarded).filter((d) => d.targetId === 'broker-b')).toEqual(
      ['d-1', 'd-2', 'd-3'].map((deviceId) => ({
        deviceId,
        targetId: 'broker-b',
        batchId: 'b-fridges',
        policyId: 'p-fridges',
        clientId: deviceId,
        roleName: 'acl-in-memory',
        topicPrefix: `fridges/${deviceId}`,
        certificate: expect.objectContaining({
          authorityId: 'tca-broker-b',
          certificatePem: expect.stringContaining('BEGIN CERTIFICATE'),
        }),
      })),
    );
    expect(onboarded.every((e) => e.correlationId === 'onboard-1' && e.causationId !== 'onboard-1')).toBe(true);
    const failures = data(await slice.events('DeviceOnboardingFailed'));
    expect(failures.map((d) => `${d.deviceId}@${d.targetId}:${d.reason}`).sort()).toEqual([
      'd-4@broker-a:device-not-certified',
      'd-4@broker-b:device-not-certified',
      'd-5@broker-a:device-revoked',
      'd-5@broker-b:device-revoked',
    ]);
    expect(slice.downlinks.filter((d) => d.kind === 'connection-parameters')).toHaveLength(6);
    const params = slice.downlinks.filter((d) => d.deviceId === 'd-1').map((d) => d.body);
    const certificates = data(onboarded)
      .filter((d) => d.deviceId === 'd-1')
      .map((d) => (d.certificate as { certificatePem: string }).certificatePem);
    // One target certificate per target, each the one recorded.
    expect(params).toEqual(
      certificates.map((clientCertificatePem) =>
        expect.objectContaining({
          clientId: 'd-1',
          topicPrefix: 'fridges/d-1',
          serverCaPem: 'server-ca',
          clientCertificatePem,
        }),
      ),
    );
    expect(new Set(certificates).size).toBe(2);
  });

  it('run again, records no second onboarding, issues nothing new and applies no trust again', async () => {
    await (
      await handler.onboardBatch({ commandId: 'onboard-1', batchId: 'b-fridges', targetIds: ['broker-a'] })
    ).done;
    await (
      await handler.onboardBatch({ commandId: 'onboard-2', batchId: 'b-fridges', targetIds: ['broker-a'] })
    ).done;
    expect(await slice.events('DeviceOnboarded')).toHaveLength(3);
    expect(slice.targets.target('broker-a').trustApplied).toHaveLength(1);
    // The same connection parameters again, with the certificate already on record.
    const sent = slice.downlinks.filter((d) => d.deviceId === 'd-1').map((d) => d.body.clientCertificatePem);
    expect(sent).toHaveLength(2);
    expect(sent[1]).toBe(sent[0]);
  });

  it('a chunk the store cuts short (the bus restarting) is done again: each device recorded and sent its parameters once', async () => {
    const writer = slice.get(DeviceWriter);
    const record = writer.record.bind(writer);
    let outage = 2; // the first two RecordOnboarded fail as a store that does not answer
    jest
      .spyOn(writer, 'record')
      .mockImplementation((deviceId, command, lane, options) =>
        command.type === 'RecordOnboarded' && outage-- > 0
          ? Promise.reject(new StoreUnavailableError('no acknowledgement within 5000 ms'))
          : record(deviceId, command, lane, options),
      );
    const { done } = await handler.onboardBatch({
      commandId: 'onboard-1',
      batchId: 'b-fridges',
      targetIds: ['broker-a'],
    });
    await expect(done).resolves.toMatchObject({ onboarded: 3 });
    const onboarded = data(await slice.events('DeviceOnboarded')).map((d) => d.deviceId);
    expect(onboarded.sort()).toEqual(['d-1', 'd-2', 'd-3']);
    const sent = slice.downlinks.filter((d) => d.kind === 'connection-parameters').map((d) => d.deviceId);
    expect(sent.sort()).toEqual(['d-1', 'd-2', 'd-3']);
  });

  it('OnboardDevice onboards one device; a device the target refuses is recorded as failed', async () => {
    slice.targets.target('broker-a').refuses.add('d-2');
    await expect((await handler.onboardDevice({ commandId: 'one', deviceId: 'd-2' })).done).resolves.toMatchObject({
      onboarded: 1,
      failed: 1,
    });
    expect(data(await slice.events('DeviceOnboardingFailed'))).toEqual([
      expect.objectContaining({ deviceId: 'd-2', targetId: 'broker-a', reason: 'target-refused' }),
    ]);
    expect(data(await slice.events('DeviceOnboarded'))).toEqual([
      expect.objectContaining({ deviceId: 'd-2', targetId: 'broker-b' }),
    ]);
  });

  it('a target down during its trust install is tried again, and its devices are onboarded once it answers', async () => {
    const b = slice.targets.target('broker-b');
    b.unreachable = true;
    const { done } = await handler.onboardBatch({ commandId: 'onboard-1', batchId: 'b-fridges' });
    // Tried again (no operator action), nothing recorded failed meanwhile.
    await waitFor(() => b.calls.filter((c) => c === 'applyTrust').length >= 2);
    b.unreachable = false;
    await expect(done).resolves.toMatchObject({ onboarded: 6 });
    expect(data(await slice.events('DeviceOnboarded')).filter((d) => d.targetId === 'broker-b')).toHaveLength(3);
    expect(data(await slice.events('DeviceOnboardingFailed')).filter((d) => d.reason === 'target-unreachable')).toEqual(
      [],
    );
  });

  it('a target still down after ONBOARDING_TARGET_RETRY_SECONDS gets no device, each recorded failed there', async () => {
    const quick = await startOnboardingSlice({ config: { onboardChunkSize: 2, targetRetrySeconds: 1 } });
    try {
      await quick.given.policy('p-fridges', ['broker-a', 'broker-b']);
      await quick.given.batch('b-fridges', 'p-fridges', ['d-1', 'd-2', 'd-3']);
      for (const deviceId of ['d-1', 'd-2', 'd-3']) await quick.given.certified(deviceId);
      await quick.registerTarget('broker-a');
      await quick.registerTarget('broker-b');
      quick.targets.target('broker-b').unreachable = true;
      const { done } = await quick.get(OnboardDevicesHandler).onboardBatch({ commandId: 'o', batchId: 'b-fridges' });
      await expect(done).resolves.toMatchObject({ onboarded: 3 });
      expect(quick.targets.target('broker-b').calls.filter((c) => c === 'applyTrust').length).toBeGreaterThan(1);
      const failures = data(await quick.events('DeviceOnboardingFailed')).filter(
        (d) => d.targetId === 'broker-b' && d.reason === 'target-unreachable',
      );
      expect(failures.map((d) => d.deviceId).sort()).toEqual(['d-1', 'd-2', 'd-3']);
    } finally {
      await quick.close();
    }
  });

  it('a run cut short by a crash is finished by the instance that starts next, nothing done twice', async () => {
    // The first instance never gets past its second chunk (d-3): it is stopped there, as a crash would leave it.
    let crash: (error: Error) => void = () => undefined;
    slice.targets.target('broker-a').beforeRegister = (devices) =>
      devices.some((d) => d.deviceId === 'd-3')
        ? new Promise<void>((_resolve, reject) => (crash = reject))
        : Promise.resolve();
    const { devices } = await handler.onboardBatch({
      commandId: 'onboard-c',
      batchId: 'b-fridges',
      targetIds: ['broker-a'],
    });
    expect(devices).toBe(5);
    await waitFor(async () => (await slice.events('DeviceOnboarded')).length === 2);
    expect(data(await slice.events('OnboardingRunStarted'))).toEqual([
      { targetId: 'broker-a', runId: 'onboard-c', batchId: 'b-fridges', policyId: 'p-fridges' },
    ]);
    const { store, credentials } = slice;
    await slice.close();
    crash(new Error('crashed'));
    // The next instance on the same log (and the same credential store, as a deployment's database).
    slice = await startOnboardingSlice({ store, credentials, config: { onboardChunkSize: 2 } });
    await waitFor(async () => (await slice.events('OnboardingRunFinished')).length === 1);
    const onboarded = data(await slice.events('DeviceOnboarded')).map((d) => d.deviceId);
    expect(onboarded.sort()).toEqual(['d-1', 'd-2', 'd-3']); // once each
    expect(data(await slice.events('OnboardingRunFinished'))).toEqual([
      { targetId: 'broker-a', runId: 'onboard-c', onboarded: 3, failed: 2 },
    ]);
    // d-1 and d-2 are sent the certificate on record again; d-3 its new one.
    const sent = slice.downlinks.filter((d) => d.kind === 'connection-parameters').map((d) => d.deviceId);
    expect(sent.sort()).toEqual(['d-1', 'd-2', 'd-3']);
    // Finished: a later start runs nothing again.
    await expect(slice.get(OnboardDevicesHandler).resumeRuns()).resolves.toEqual([]);
  });

  it('refuses unknown batches, devices and targets before the reply, writing nothing', async () => {
    const before = (await slice.events()).length;
    await expect(handler.onboardBatch({ commandId: 'x', batchId: 'b-nope' })).rejects.toMatchObject({
      reason: 'unknown-batch',
    });
    await expect(handler.onboardDevice({ commandId: 'y', deviceId: 'd-nope' })).rejects.toMatchObject({
      reason: 'unknown-device',
    });
    const unknownTarget = await handler
      .onboardBatch({ commandId: 'z', batchId: 'b-fridges', targetIds: ['broker-z'] })
      .catch((e: unknown) => e);
    expect(unknownTarget).toBeInstanceOf(OnboardingCommandRejected);
    expect(unknownTarget).toMatchObject({ reason: 'unknown-target' });
    expect(await slice.events()).toHaveLength(before);
  });

  describe('a device revoked while the run goes on', () => {
    const onboardToA = async (commandId: string) =>
      (await handler.onboardBatch({ commandId, batchId: 'b-fridges', targetIds: ['broker-a'] })).done;
    /** Runs `revoke` once, when the broker is asked to register d-3 (chunks of 2: d-1 and d-2 first). */
    const whenD3IsRegistered = (revoke: () => Promise<unknown>) => {
      const target = slice.targets.target('broker-a');
      target.beforeRegister = async (devices) => {
        if (!devices.some((d) => d.deviceId === 'd-3')) return;
        target.beforeRegister = undefined;
        await revoke();
      };
    };
    const outcomesOf = async (deviceId: string) =>
      (await slice.events())
        .filter((e) => (e.data as { deviceId?: string }).deviceId === deviceId)
        .map((e) => `${e.type}:${(e.data as { reason?: string }).reason ?? ''}`);
    const parametersSentTo = (deviceId: string) =>
      slice.downlinks.filter((d) => d.kind === 'connection-parameters' && d.deviceId === deviceId);

    it('after a chunk: decided again before the next broker call, so it is never registered', async () => {
      const target = slice.targets.target('broker-a');
      target.beforeRegister = async () => {
        target.beforeRegister = undefined;
        await slice.given.revoked('d-3', 'rv-2'); // while the first chunk (d-1, d-2) is at the broker
      };
      await expect(onboardToA('onboard-1')).resolves.toMatchObject({ onboarded: 2, failed: 3 });
      expect(target.registerRequests).toEqual([2]);
      expect(target.devices.has('d-3')).toBe(false);
      expect(await outcomesOf('d-3')).toEqual(['DeviceOnboardingFailed:device-revoked']);
      expect(parametersSentTo('d-3')).toEqual([]);
    });

    it('while its chunk is at the broker, deprovisioned by the revocation meanwhile: the refused record is undone there', async () => {
      await onboardToA('onboard-1');
      expect(slice.targets.target('broker-a').devices.get('d-3')?.enabled).toBe(true);
      const parametersBefore = parametersSentTo('d-3').length;
      // The whole revocation (CRL enforced, d-3 disabled and recorded deprovisioned) lands before the broker
      // applies the second run's registration of d-3, which enables it again.
      whenD3IsRegistered(async () => {
        await slice.given.revoked('d-3', 'rv-2');
        await slice.given.crl(3);
        await waitFor(async () => (await outcomesOf('d-3')).includes('DeviceDeprovisioned:revoked'), {
          description: 'd-3 deprovisioned by the revocation',
          timeoutMs: 10_000,
        });
      });
      await expect(onboardToA('onboard-2')).resolves.toMatchObject({ onboarded: 2 });
      expect(slice.targets.target('broker-a').devices.get('d-3')?.enabled).toBe(false);
      expect(await outcomesOf('d-3')).toEqual([
        'DeviceOnboarded:',
        'DeviceDeprovisioned:revoked',
        'DeviceOnboardingFailed:device-revoked',
      ]);
      expect(parametersSentTo('d-3')).toHaveLength(parametersBefore);
    });

    it('while its chunk is at the broker, recorded onboarded before the log says revoked: disabled there and deprovisioned', async () => {
      whenD3IsRegistered(() => slice.given.revoked('d-3', 'rv-2'));
      await expect(onboardToA('onboard-1')).resolves.toMatchObject({ onboarded: 2 });
      expect(slice.targets.target('broker-a').devices.get('d-3')?.enabled).toBe(false);
      expect(await outcomesOf('d-3')).toEqual(['DeviceOnboarded:', 'DeviceDeprovisioned:revoked']);
      expect(data(await slice.events('DeviceDeprovisioned'))).toEqual([
        { deviceId: 'd-3', targetId: 'broker-a', reason: 'revoked', revocationId: 'rv-2' },
      ]);
      expect(parametersSentTo('d-3')).toEqual([]);
    });
  });

  it('refuses a policy whose topic rights leave the device prefix', async () => {
    await slice.given.policy('p-wide', ['broker-a'], [{ topic: 'fridges/#', access: 'subscribe' }]);
    await slice.given.batch('b-wide', 'p-wide', ['d-9']);
    await expect(handler.onboardBatch({ commandId: 'w', batchId: 'b-wide' })).rejects.toMatchObject({
      reason: 'unsafe-topic-rights',
    });
  });
});
