import { ConfigError, readmeConfigSection } from '@tunnelkey/config';
import { brokerAgentConfigFromEnv, brokerAgentConfigSchema } from './config.js';

describe('broker agent configuration', () => {
  it("keeps the README's configuration table in step with the schema (UPDATE_DOCS=1 rewrites it)", () => {
    const readme = new URL('../README.md', import.meta.url).pathname;
    const { actual, expected } = readmeConfigSection(readme, brokerAgentConfigSchema, {
      write: process.env.UPDATE_DOCS === '1',
    });
    expect(actual).toBe(expected);
  });

  it('has the documented defaults: the broker laid out as deploy/ lays it out', () => {
    expect(brokerAgentConfigFromEnv({})).toMatchObject({
      httpHost: '127.0.0.1',
      httpPort: 3106,
      brokerId: 'broker-1',
      caFile: '/mosquitto/trust/ca.pem',
      crlFile: '/mosquitto/trust/crl.pem',
      aclFile: '/mosquitto/trust/acl',
      pidFile: '/mosquitto/run/mosquitto.pid',
      logFile: '/mosquitto/log/mosquitto.log',
      reloadTimeoutMs: 5_000,
      connectionsReportMs: 15_000,
    });
  });

  it('reads every variable, and names the one that is wrong (never its value)', () => {
    const config = brokerAgentConfigFromEnv({
      BROKER_ID: 'plant-broker',
      BROKER_CA_FILE: '/t/ca.pem',
      BROKER_CRL_FILE: '/t/crl.pem',
      BROKER_ACL_FILE: '/t/acl',
      BROKER_PID_FILE: '/r/pid',
      BROKER_LOG_FILE: '/l/log',
      BROKER_RELOAD_TIMEOUT_MS: '2000',
      BROKER_CONNECTIONS_REPORT_MS: '0',
      HTTP_PORT: '9000',
    });
    expect(config).toMatchObject({
      brokerId: 'plant-broker',
      caFile: '/t/ca.pem',
      reloadTimeoutMs: 2000,
      connectionsReportMs: 0,
      httpPort: 9000,
    });
    // A broker id becomes a subject token: one that could address another broker's subject is refused.
    expect(() => brokerAgentConfigFromEnv({ BROKER_ID: 'broker.*' })).toThrow(ConfigError);
    expect(() => brokerAgentConfigFromEnv({ BROKER_ID: 'broker.*' })).toThrow(/^BROKER_ID must match/);
    expect(() => brokerAgentConfigFromEnv({ BROKER_RELOAD_TIMEOUT_MS: '10' })).toThrow(/BROKER_RELOAD_TIMEOUT_MS/);
    expect(() => brokerAgentConfigFromEnv({ BROKER_CONNECTIONS_REPORT_MS: '-1' })).toThrow(
      /BROKER_CONNECTIONS_REPORT_MS/,
    );
  });
});
