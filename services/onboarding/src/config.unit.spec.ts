import { ConfigError, readmeConfigSection } from '@tunnelkey/config';
import { mosquittoBindingsOf, onboardingConfigFromEnv, onboardingConfigSchema, serverCaPemOf } from './config.js';
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

  it("MOSQUITTO_BINDINGS' serverCaFile: the broker's server CA devices get, per target, else `*`, read at start", () => {
    const files: Record<string, string> = { '/a/server-ca.pem': 'PEM-A', '/server-ca.pem': 'PEM-ANY' };
    const read = (path: string) =>
      files[path] ??
      (() => {
        throw new Error('ENOENT');
      })();
    const json = JSON.stringify({
      '*': { serverCaFile: '/server-ca.pem' },
      'broker-a': { serverCaFile: '/a/server-ca.pem' },
    });
    const serverCa = serverCaPemOf(json, read);
    expect(serverCa('broker-a')).toBe('PEM-A');
    expect(serverCa('other')).toBe('PEM-ANY');
    expect(serverCaPemOf(JSON.stringify({ 'broker-a': { logFile: '/l' } }), read)('broker-a')).toBeUndefined();
    expect(serverCaPemOf(undefined, read)('broker-a')).toBeUndefined();
    expect(() => serverCaPemOf(JSON.stringify({ '*': { serverCaFile: '/missing.pem' } }), read)).toThrow(
      OnboardingConfigError,
    );
  });
});
