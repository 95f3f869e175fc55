/** The revocation service's one configuration schema: read from the environment, documented in the README. */
import { common, defineConfig, integer, type ConfigOf, type Env, natsConnectionSettings } from '@tunnelkey/config';

export const revocationConfigSchema = defineConfig({
  natsUrl: common.natsUrl,
  ...natsConnectionSettings,
  namespace: common.namespace,
  httpHost: common.httpHost,
  httpPort: integer(
    'HTTP_PORT',
    3104,
    'Port of /health, /ready, /metrics and the revocation queries (0: a free port, tests)',
    { max: 65_535 },
  ),
  logLevel: common.logLevel,
  retryMs: integer(
    'REVOCATION_RETRY_MS',
    1000,
    'How soon a saga step that failed (a store outage) is tried again, in ms',
    {
      min: 10,
      max: 60_000,
    },
  ),
  stallMs: integer(
    'REVOCATION_STALL_MS',
    60_000,
    'A revocation that has not moved forward for this long is stalled: RevocationStalled, revocation_stalled, shown in its status (ms)',
    { min: 10, max: 86_400_000 },
  ),
  deadlineMs: integer(
    'REVOCATION_DEADLINE_MS',
    300_000,
    'A revocation not completed this long after its request is escalated: RevocationEscalated, revocation_escalated; the saga keeps retrying (ms)',
    { min: 10, max: 604_800_000 },
  ),
});

export type RevocationConfig = ConfigOf<typeof revocationConfigSchema.settings>;

/** Every default works on loopback; an invalid value throws ConfigError naming the variable. */
export const revocationConfigFromEnv = (env: Env = process.env): RevocationConfig => revocationConfigSchema.read(env);
