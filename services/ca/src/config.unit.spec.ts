import { ConfigError, readmeConfigSection } from '@tunnelkey/config';
import { caConfigFromEnv, caConfigSchema, caSecretsEnv } from './config.js';

describe('CA configuration', () => {
  it("keeps the README's configuration table in step with the schema (UPDATE_DOCS=1 rewrites it)", () => {
    const readme = new URL('../README.md', import.meta.url).pathname;
    const { actual, expected } = readmeConfigSection(readme, caConfigSchema, {
      write: process.env.UPDATE_DOCS === '1',
    });
    expect(actual).toBe(expected);
  });

  it('has the documented defaults (the CRL base URL on the HTTP port, the instance named after the host)', () => {
    expect(caConfigFromEnv({ HOSTNAME: 'pod/7' })).toEqual({
      natsUrl: 'nats://127.0.0.1:4222',
      namespace: '',
      logLevel: 'info',
      httpHost: '127.0.0.1',
      httpPort: 3102,
      crlBaseUrl: 'http://127.0.0.1:3102/crl',
      instanceId: 'pod-7',
      maxConcurrentIssuance: 64,
      csrWindow: 1000,
      csrRetrySeconds: 30,
      csrExpirySeconds: 600,
      renewalExpirySeconds: 3600,
      renewalCheckSeconds: 60,
      rootLifetimeDays: 7300,
      issuingLifetimeDays: 3650,
      organization: 'tunnelkey',
      crlValidityHours: 168,
      crlRefreshCheckMs: 600_000,
    });
    expect(caConfigFromEnv({ HTTP_PORT: '8080' }).crlBaseUrl).toBe('http://127.0.0.1:8080/crl');
  });

  it('reads every variable, and names the one that is wrong (never its value)', () => {
    const config = caConfigFromEnv({
      CRL_BASE_URL: 'https://pki.example.com/crl/',
      CA_INSTANCE_ID: 'ca 1',
      CA_MAX_CONCURRENT_ISSUANCE: '8',
      CA_CSR_WINDOW: '50',
      CA_CSR_RETRY_SECONDS: '5',
      CA_CSR_EXPIRY_SECONDS: '60',
      CA_ORGANIZATION: 'Acme',
      CA_CRL_VALIDITY_HOURS: '24',
      CA_CRL_REFRESH_CHECK_MS: '1000',
    });
    expect(config).toMatchObject({
      crlBaseUrl: 'https://pki.example.com/crl',
      instanceId: 'ca-1',
      maxConcurrentIssuance: 8,
      csrWindow: 50,
      csrRetrySeconds: 5,
      csrExpirySeconds: 60,
      organization: 'Acme',
      crlValidityHours: 24,
      crlRefreshCheckMs: 1000,
    });
    expect(() => caConfigFromEnv({ CRL_BASE_URL: 'ftp://pki.example.com' })).toThrow(/CRL_BASE_URL/);
    expect(() => caConfigFromEnv({ CA_MAX_CONCURRENT_ISSUANCE: 'many' })).toThrow(ConfigError);
    expect(() => caConfigFromEnv({ CA_CRL_VALIDITY_HOURS: '0' })).toThrow(/CA_CRL_VALIDITY_HOURS/);
    expect(() => caConfigFromEnv({ CA_CSR_WINDOW: '0' })).toThrow(/CA_CSR_WINDOW/);
  });

  it('keeps the secrets out of the configuration, for the KEK and platform-key loaders only', () => {
    const env = { CA_KEK: 'a'.repeat(64), PLATFORM_KEY_FILE: '/run/secrets/platform.key' };
    expect(JSON.stringify(caConfigFromEnv(env))).not.toContain('a'.repeat(64));
    expect(caSecretsEnv(env)).toEqual({
      CA_KEK: 'a'.repeat(64),
      CA_KEK_FILE: undefined,
      PLATFORM_KEY_FILE: '/run/secrets/platform.key',
      PLATFORM_KEY: undefined,
      PLATFORM_KEY_ID: 'platform-1',
    });
  });
});
