import { ConfigError, readmeConfigSection } from '@tunnelkey/config';
import { onboardingConfigFromEnv, onboardingConfigSchema, serverCaPemOf } from './config.js';
import { OnboardingConfigError } from './errors.js';

describe('onboarding configuration', () => {
  it("keeps the README's configuration table in step with the schema (UPDATE_DOCS=1 rewrites it)", () => {
    const readme = new URL('../README.md', import.meta.url).pathname;
    const { actual, expected } = readmeConfigSection(readme, onboardingConfigSchema, {
      write: process.env.UPDATE_DOCS === '1',
    });
    expect(actual).toBe(expected);
  });

  it('has the documented defaults', () => {
    expect(onboardingConfigFromEnv({ HOSTNAME: 'pod/7' })).toEqual({
      natsUrl: 'nats://127.0.0.1:4222',
      namespace: '',
      httpHost: '127.0.0.1',
      httpPort: 3103,
      instanceId: 'pod-7',
      onboardChunkSize: 500,
      targetCrlLifetimeMs: 604_800_000,
      parametersRetryMs: 60_000,
      targetRetrySeconds: 300,
      maxConcurrentAppends: 64,
      telemetryIntervalMs: 30_000,
      deviceStateCacheSize: 20_000,
      logLevel: 'info',
      trustedRootSha256: undefined,
      serverCaFiles: undefined,
    });
  });

  it('TRUSTED_ROOT_SHA256: the root pinned for trust, as openssl prints it or plain hex; anything else refused', () => {
    const hex = 'ab'.repeat(32);
    const colons = 'AB:'.repeat(31) + 'AB';
    expect(onboardingConfigFromEnv({ TRUSTED_ROOT_SHA256: colons }).trustedRootSha256).toBe(hex);
    expect(onboardingConfigFromEnv({ TRUSTED_ROOT_SHA256: hex }).trustedRootSha256).toBe(hex);
    expect(() => onboardingConfigFromEnv({ TRUSTED_ROOT_SHA256: 'ab'.repeat(31) })).toThrow(OnboardingConfigError);
    expect(() => onboardingConfigFromEnv({ TRUSTED_ROOT_SHA256: 'zz'.repeat(32) })).toThrow(/TRUSTED_ROOT_SHA256/);
  });

  it('reads every variable, and names the one that is wrong', () => {
    const config = onboardingConfigFromEnv({
      ONBOARDING_INSTANCE_ID: 'a b',
      ONBOARDING_CHUNK_SIZE: '50',
      ONBOARDING_DEVICE_STATE_CACHE_SIZE: '0',
    });
    expect(config).toMatchObject({ instanceId: 'a-b', onboardChunkSize: 50, deviceStateCacheSize: 0 });
    expect(() => onboardingConfigFromEnv({ ONBOARDING_MAX_CONCURRENT_APPENDS: 'many' })).toThrow(ConfigError);
    expect(() => onboardingConfigFromEnv({ ONBOARDING_MAX_CONCURRENT_APPENDS: 'many' })).toThrow(
      /ONBOARDING_MAX_CONCURRENT_APPENDS/,
    );
  });

  it("MOSQUITTO_SERVER_CA_FILES: the broker's server CA devices get, per target, else `*`, read at start", () => {
    const files: Record<string, string> = { '/a/server-ca.pem': 'PEM-A', '/server-ca.pem': 'PEM-ANY' };
    const read = (path: string) =>
      files[path] ??
      (() => {
        throw new Error('ENOENT');
      })();
    const serverCa = serverCaPemOf(JSON.stringify({ '*': '/server-ca.pem', 'broker-a': '/a/server-ca.pem' }), read);
    expect(serverCa('broker-a')).toBe('PEM-A');
    expect(serverCa('other')).toBe('PEM-ANY');
    expect(serverCaPemOf(JSON.stringify({ 'broker-a': '/a/server-ca.pem' }), read)('other')).toBeUndefined();
    expect(serverCaPemOf(undefined, read)('broker-a')).toBeUndefined();
    expect(() => serverCaPemOf(JSON.stringify({ '*': '/missing.pem' }), read)).toThrow(OnboardingConfigError);
    expect(() => serverCaPemOf('{nope', read)).toThrow(/MOSQUITTO_SERVER_CA_FILES must be JSON/);
    // The old shape (files the broker agent now owns) is refused, not half-read.
    expect(() => serverCaPemOf(JSON.stringify({ '*': { caFile: '/ca.pem' } }), read)).toThrow(/must name a file/);
  });
});
