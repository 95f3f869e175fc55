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
    // The store keeps the name of the secret file, never the secret.
    await expect(slice.credentials.get('target-broker-a')).resolves.toEqual({
      username: 'admin',
      passwordFile: 'broker-admin',
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
        admin: { username: 'x', passwordFile: 'other' },
      })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CommandRejected);
    expect((refused as CommandRejected).reason).toBe('target-exists');
    expect(slice.targets.attempts).toHaveLength(attempts);
    await expect(slice.credentials.get('target-broker-a')).resolves.toMatchObject({ passwordFile: 'broker-admin' });
    expect(await slice.events()).toHaveLength(1);
  });

  it('refuses credentials the target refuses, and records nothing', async () => {
    slice.targets.passwords.set('broker-b', 'the-right-one');
    slice.secrets.set('wrong', 'wrong');
    const refused = await slice
      .registerTarget('broker-b', { admin: { username: 'admin', passwordFile: 'wrong' } })
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
    slice.secrets.set('wrong', 'wrong');
    const refused = await slice
      .registerTarget('broker-a', { commandId: 'again', admin: { username: 'admin', passwordFile: 'wrong' } })
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ reason: 'target-unreachable' });
    expect(slice.get(ConnectedTargets).get('broker-a')).toBe(working);
    expect(working.closed).toBe(false);
    await expect(slice.credentials.get('target-broker-a')).resolves.toMatchObject({ passwordFile: 'broker-admin' });
  });

  it('refuses a password sent in plain text, touching nothing and repeating it nowhere', async () => {
    const refused = await slice
      .registerTarget('broker-a', { admin: { username: 'admin', password: 'plain-text-secret' } })
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ reason: 'plaintext-secret-refused' });
    const reply = JSON.stringify({ ...(refused as object), message: (refused as Error).message });
    expect(reply).not.toContain('plain-text-secret');
    expect(slice.targets.attempts).toEqual([]);
    expect(await slice.events()).toEqual([]);
    await expect(slice.credentials.get('target-broker-a')).resolves.toBeUndefined();
  });

  it('refuses a secret file that is not there, naming the file only', async () => {
    const refused = await slice
      .registerTarget('broker-a', { admin: { username: 'admin', passwordFile: 'nowhere' } })
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ reason: 'secret-unavailable' });
    expect((refused as Error).message).toContain('nowhere');
    expect(slice.targets.attempts).toEqual([]);
    expect(await slice.events()).toEqual([]);
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
