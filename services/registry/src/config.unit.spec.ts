import { ConfigError, readmeConfigSection } from '@tunnelkey/config';
import { registryConfig } from './config.js';

describe('registry configuration', () => {
  it("keeps the README's configuration table in step with the schema (UPDATE_DOCS=1 rewrites it)", () => {
    const readme = new URL('../README.md', import.meta.url).pathname;
    const { expected, actual } = readmeConfigSection(readme, registryConfig, {
      write: process.env.UPDATE_DOCS === '1',
    });
    expect(actual).toBe(expected);
  });

  it('has the defaults the registry always had, and keeps a challenge TTL between 5 s and a day', () => {
    expect(registryConfig.read({})).toEqual({
      natsUrl: 'nats://127.0.0.1:4222',
      namespace: '',
      httpHost: '127.0.0.1',
      httpPort: 3101,
      challengeTtlSeconds: 300,
      challengeWindow: 1_000,
      challengeRetrySeconds: 30,
      logLevel: 'info',
      bulkConcurrency: 64,
      uplinkConcurrency: 256,
      uplinkRatePerMinute: 60,
      uplinkBurst: 20,
      trackedDevices: 100_000,
      announcementTtlSeconds: 3600,
      integrityCheckMs: 1000,
      platformKeyFile: undefined,
      platformKey: undefined,
      platformKeyId: 'platform-1',
    });
    expect(() => registryConfig.read({ REGISTRY_CHALLENGE_TTL_SECONDS: '4' })).toThrow(ConfigError);
    expect(registryConfig.read({ REGISTRY_CHALLENGE_TTL_SECONDS: '86400' }).challengeTtlSeconds).toBe(86_400);
    // Rate limits and memory bounds cannot be switched off.
    expect(() => registryConfig.read({ REGISTRY_UPLINK_BURST: '0' })).toThrow(ConfigError);
    expect(() => registryConfig.read({ REGISTRY_TRACKED_DEVICES: '10' })).toThrow(ConfigError);
  });
});
