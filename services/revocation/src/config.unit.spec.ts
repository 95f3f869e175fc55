import { ConfigError, readmeConfigSection } from '@tunnelkey/config';
import { revocationConfigFromEnv, revocationConfigSchema } from './config.js';

describe('revocation configuration', () => {
  it("keeps the README's configuration table in step with the schema (UPDATE_DOCS=1 rewrites it)", () => {
    const readme = new URL('../README.md', import.meta.url).pathname;
    const { actual, expected } = readmeConfigSection(readme, revocationConfigSchema, {
      write: process.env.UPDATE_DOCS === '1',
    });
    expect(actual).toBe(expected);
  });

  it('has the documented defaults, each of which works on loopback', () => {
    expect(revocationConfigFromEnv({})).toEqual({
      natsUrl: 'nats://127.0.0.1:4222',
      namespace: '',
      httpHost: '127.0.0.1',
      httpPort: 3104,
      logLevel: 'info',
      retryMs: 1000,
      stallMs: 60_000,
      deadlineMs: 300_000,
    });
  });

  it('reads every variable, and names the one that is wrong (never its value)', () => {
    const env = {
      NATS_URL: 'nats://nats:4222',
      TUNNELKEY_NAMESPACE: 't1',
      HTTP_HOST: '0.0.0.0',
      HTTP_PORT: '3105',
      LOG_LEVEL: 'warn',
      REVOCATION_RETRY_MS: '50',
      REVOCATION_STALL_MS: '30000',
      REVOCATION_DEADLINE_MS: '120000',
    };
    expect(revocationConfigFromEnv(env)).toEqual({
      natsUrl: 'nats://nats:4222',
      namespace: 't1',
      httpHost: '0.0.0.0',
      httpPort: 3105,
      logLevel: 'warn',
      retryMs: 50,
      stallMs: 30_000,
      deadlineMs: 120_000,
    });
    expect(() => revocationConfigFromEnv({ REVOCATION_DEADLINE_MS: 'soon' })).toThrow(/REVOCATION_DEADLINE_MS/);
    expect(() => revocationConfigFromEnv({ REVOCATION_STALL_MS: '0' })).toThrow(/REVOCATION_STALL_MS/);
    expect(() => revocationConfigFromEnv({ REVOCATION_RETRY_MS: '5' })).toThrow(ConfigError);
    expect(() => revocationConfigFromEnv({ HTTP_PORT: '70000' })).toThrow(
      /HTTP_PORT must be an integer from 0 to 65535/,
    );
    expect(() => revocationConfigFromEnv({ TUNNELKEY_NAMESPACE: 'not a namespace' })).toThrow(/TUNNELKEY_NAMESPACE/);
  });
});
