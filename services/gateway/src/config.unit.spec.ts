import { ConfigError, readmeConfigSection } from '@tunnelkey/config';
import { gatewayConfig, gatewayConfigFromEnv } from './config.js';

describe('gateway configuration', () => {
  it("is the README's configuration table (UPDATE_DOCS=1 rewrites it)", () => {
    const readme = new URL('../README.md', import.meta.url).pathname;
    const { actual, expected } = readmeConfigSection(readme, gatewayConfig, { write: process.env.UPDATE_DOCS === '1' });
    expect(actual).toBe(expected);
  });

  it('works on loopback with no environment; GATEWAY_PORT falls back on HTTP_PORT', () => {
    expect(gatewayConfigFromEnv({})).toEqual({
      natsUrl: 'nats://127.0.0.1:4222',
      namespace: '',
      httpPort: 8080,
      httpHost: '127.0.0.1',
      adminToken: undefined,
      ticketKey: undefined,
      bodyLimit: '64kb',
      importBodyLimit: '32mb',
      rateLimit: 50,
      anonymousRateLimit: 20,
      tlsCertFile: undefined,
      tlsKeyFile: undefined,
      metricsToken: undefined,
      mongoUrl: undefined,
      mongoDatabase: undefined,
      logLevel: 'info',
    });
    expect(gatewayConfigFromEnv({ HTTP_PORT: '0' }).httpPort).toBe(0);
    expect(gatewayConfigFromEnv({ HTTP_PORT: '0', GATEWAY_PORT: '9090' }).httpPort).toBe(9090);
    const key = 'ab'.repeat(32);
    expect(gatewayConfigFromEnv({ GATEWAY_TICKET_KEY: key }).ticketKey).toEqual(Buffer.from(key, 'hex'));
  });

  it.each([
    ['GATEWAY_ADMIN_TOKEN', 'short-secret-token'],
    ['GATEWAY_TICKET_KEY', 'abcd'],
    ['GATEWAY_PORT', '70000'],
    ['TUNNELKEY_NAMESPACE', 'not a namespace'],
    ['GATEWAY_BODY_LIMIT', 'lots'],
    ['GATEWAY_IMPORT_BODY_LIMIT', '2gb'],
    ['GATEWAY_RATE_LIMIT', 'fast'],
  ])('refuses an invalid %s, naming the variable and never the value', (variable, value) => {
    let error: unknown;
    try {
      gatewayConfigFromEnv({ [variable]: value });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ code: 'CONFIG_INVALID', context: { variable } });
    expect((error as Error).message).toMatch(new RegExp(`^${variable} `));
    expect((error as Error).message).not.toContain(value);
  });
});
