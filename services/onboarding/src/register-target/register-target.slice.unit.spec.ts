import { CommandRejected } from '@tunnelkey/eventstore';
import { OnboardingCommandRejected } from '../errors.js';
import { ConnectedTargets } from '../target-port/connected-targets.js';
import { startOnboardingSlice, type OnboardingSlice } from '../test-support/onboarding-slice.test-helper.js';
import { TargetsView } from '../views/targets.view.js';

describe('register-target slice (in-memory store and target)', () => {
  let slice: OnboardingSlice;
  beforeEach(async () => {
    slice = await startOnboardingSlice();
  });
  afterEach(() => slice.close());

  it('connects to the target, keeps the secret out of the log, and records TargetRegistered once', async () => {
    await expect(slice.registerTarget('broker-a')).resolves.toEqual({ targetId: 'broker-a' });
    const [registered, ...others] = await slice.events();
    expect(others).toEqual([]);
    expect(registered).toMatchObject({
      type: 'TargetRegistered',
      aggregateId: 'broker-a',
      causationId: 'register-broker-a',
      data: {
        targetId: 'broker-a',
        kind: 'mosquitto',
        host: 'broker-a.local',
        tlsPort: 8883,
        credentialsRef: 'target-broker-a',
      },
    });
    expect(JSON.stringify(registered)).not.toContain('secret-admin-password');
    await expect(slice.credentials.get('target-broker-a')).resolves.toEqual({
      username: 'admin',
      password: 'secret-admin-password',
    });
    expect(slice.get(ConnectedTargets).get('broker-a')).toBe(slice.targets.target('broker-a'));
    // The reply comes once the view knows the target: OnboardBatch right after it finds it.
    expect(slice.get(TargetsView).target('broker-a')?.registration.host).toBe('broker-a.local');

    await expect(slice.registerTarget('broker-a', { commandId: 'again' })).resolves.toEqual({ targetId: 'broker-a' });
    expect(await slice.events('TargetRegistered')).toHaveLength(1);
  });

  it('refuses other settings for a registered target before touching the target or the secret store', async () => {
    await slice.registerTarget('broker-a');
    const attempts = slice.targets.attempts.length;
    const refused = await slice
      .registerTarget('broker-a', {
        commandId: 'other',
        host: 'elsewhere.local',
        admin: { username: 'x', password: 'other-password' },
      })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CommandRejected);
    expect((refused as CommandRejected).reason).toBe('target-exists');
    expect(slice.targets.attempts).toHaveLength(attempts);
    await expect(slice.credentials.get('target-broker-a')).resolves.toMatchObject({
      password: 'secret-admin-password',
    });
    expect(await slice.events()).toHaveLength(1);
  });

  it('refuses credentials the target refuses, and records nothing', async () => {
    slice.targets.passwords.set('broker-b', 'the-right-one');
    const refused = await slice
      .registerTarget('broker-b', { admin: { username: 'admin', password: 'wrong' } })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OnboardingCommandRejected);
    expect(refused).toMatchObject({ reason: 'target-unreachable' });
    expect(await slice.events()).toEqual([]);
    await expect(slice.credentials.get('target-broker-b')).resolves.toBeUndefined();
    expect(slice.get(ConnectedTargets).get('broker-b')).toBeUndefined();
  });

  it('keeps the working connection when a re-registration brings credentials the target refuses', async () => {
    slice.targets.passwords.set('broker-a', 'secret-admin-password');
    await slice.registerTarget('broker-a');
    const working = slice.targets.target('broker-a');
    const refused = await slice
      .registerTarget('broker-a', { commandId: 'again', admin: { username: 'admin', password: 'wrong' } })
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ reason: 'target-unreachable' });
    expect(slice.get(ConnectedTargets).get('broker-a')).toBe(working);
    expect(working.closed).toBe(false);
    await expect(slice.credentials.get('target-broker-a')).resolves.toMatchObject({
      password: 'secret-admin-password',
    });
  });

  it('refuses a kind of target it has no adapter for', async () => {
    await expect(slice.registerTarget('hub', { kind: 'azure-iot-hub' })).rejects.toMatchObject({
      reason: 'unsupported-target-kind',
    });
    expect(slice.targets.attempts).toEqual([]);
  });

  it('connects the registered targets again at start, when it holds their credentials', async () => {
    await slice.registerTarget('broker-a');
    const { store, credentials } = slice;
    await slice.close();
    slice = await startOnboardingSlice({ store });
    expect(slice.get(ConnectedTargets).get('broker-a')).toBeUndefined();
    await slice.close();
    slice = await startOnboardingSlice({ store, credentials });
    expect(slice.get(ConnectedTargets).get('broker-a')).toBe(slice.targets.target('broker-a'));
  });
});
