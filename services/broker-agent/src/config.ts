/** The broker agent's one configuration schema: environment, defaults, validation and the README table. */
import { aggregateIdPattern } from '@tunnelkey/contracts';
import {
  common,
  ConfigError,
  defineConfig,
  integer,
  natsConnectionSettings,
  text,
  type ConfigOf,
  type Env,
} from '@tunnelkey/config';

export const brokerAgentConfigSchema = defineConfig({
  natsUrl: common.natsUrl,
  ...natsConnectionSettings,
  namespace: common.namespace,
  httpHost: common.httpHost,
  httpPort: integer('HTTP_PORT', 3106, 'Port of /health, /ready and /metrics (0 picks a free one)', { max: 65_535 }),
  logLevel: common.logLevel,
  brokerId: {
    ...text(
      'BROKER_ID',
      'broker-1',
      'The onboarding target this broker is registered as (RegisterTarget targetId): the agent answers for it only',
    ),
    parse: (raw: string) => {
      if (new RegExp(aggregateIdPattern).test(raw)) return raw;
      throw new ConfigError(`BROKER_ID must match ${aggregateIdPattern}`, { variable: 'BROKER_ID' });
    },
  },
  caFile: text('BROKER_CA_FILE', '/mosquitto/trust/ca.pem', "The device listener's cafile (written by the agent)"),
  crlFile: text('BROKER_CRL_FILE', '/mosquitto/trust/crl.pem', "The device listener's crlfile (written by the agent)"),
  aclFile: text('BROKER_ACL_FILE', '/mosquitto/trust/acl', "The broker's acl_file (written by the agent)"),
  pidFile: text(
    'BROKER_PID_FILE',
    '/mosquitto/run/mosquitto.pid',
    "The broker's pid_file: the agent sends that process SIGHUP to reload (a pod sharing its process namespace)",
  ),
  logFile: text(
    'BROKER_LOG_FILE',
    '/mosquitto/log/mosquitto.log',
    "The broker's log (log_dest file, connection_messages true): reloads and connections are read from it",
  ),
  reloadTimeoutMs: integer(
    'BROKER_RELOAD_TIMEOUT_MS',
    5_000,
    'How long an install waits for the broker to log its reload (ms)',
    { min: 100, max: 120_000 },
  ),
  connectionsReportMs: integer(
    'BROKER_CONNECTIONS_REPORT_MS',
    15_000,
    'How often the agent reports who is connected (client ids, from the log), so onboarding makes good a connection fact lost on the way (ms); 0: never',
    { min: 0, max: 3_600_000 },
  ),
});

export type BrokerAgentConfig = ConfigOf<typeof brokerAgentConfigSchema.settings>;

/**
 * Every default works beside a Mosquitto laid out as deploy/ lays it out; an invalid value throws
 * ConfigError naming the variable.
 */
export const brokerAgentConfigFromEnv = (env: Env = process.env): BrokerAgentConfig =>
  brokerAgentConfigSchema.read(env);
