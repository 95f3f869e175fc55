import { ConfigError, readmeConfigSection } from '@tunnelkey/config';
import { mosquittoBindingsOf, onboardingConfigFromEnv, onboardingConfigSchema } from './config.js';
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
      maxConcurrentAppends: 64,
      telemetryIntervalMs: 30_000,
      deviceStateCacheSize: 20_000,
      logLevel: 'info',
      trustedRootSha256: undefined,
      mosquittoBindings: undefined,
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

  it('MOSQUITTO_BINDINGS: per target, else `*`; the trust files only all three together', () => {
    const trust = (dir: string) => ({ caFile: `${dir}/ca.pem`, crlFile: `${dir}/crl.pem`, aclFile: `${dir}/acl` });
    const bindings = mosquittoBindingsOf(
      JSON.stringify({ '*': trust('/trust'), 'broker-a': { ...trust('/a'), logFile: '/a/log' } }),
    );
    expect(bindings('broker-a')).toEqual({ trust: trust('/a'), logFile: '/a/log' });
    expect(bindings('other')).toEqual({ trust: trust('/trust') });
    expect(mosquittoBindingsOf(JSON.stringify({ '*': { logFile: '/l' } }))('x')).toEqual({ logFile: '/l' });
    expect(mosquittoBindingsOf(undefined)('broker-a')).toBeUndefined();
    expect(() => mosquittoBindingsOf('{nope')).toThrow(OnboardingConfigError);
    expect(() => mosquittoBindingsOf(JSON.stringify({ '*': { caFile: '/ca.pem', crlFile: '/crl.pem' } }))).toThrow(
      /caFile, crlFile and aclFile together/,
    );
  });
});
