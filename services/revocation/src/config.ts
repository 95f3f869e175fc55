/** The revocation service's one configuration schema: read from the environment, documented in the README. */
import { common, defineConfig, integer, type ConfigOf, type Env } from '@tunnelkey/config';

export const revocationConfigSchema = defineConfig({
  natsUrl: common.natsUrl,
  namespace: common.namespace,
  httpPort: integer('HTTP_PORT', 0, 'Port of /health, /ready, /metrics and the revocation queries (0: a free port)', {
    max: 65_535,
  }),
  retryMs: integer(
    'REVOCATION_RETRY_MS',
    1000,
    'How soon a saga step that failed (a store outage) is tried again, in ms',
    {
      min: 10,
      max: 60_000,
    },
  ),
});

export type RevocationConfig = ConfigOf<typeof revocationConfigSchema.settings>;

/** Every default works on loopback; an invalid value throws ConfigError naming the variable. */
export const revocationConfigFromEnv = (env: Env = process.env): RevocationConfig => revocationConfigSchema.read(env);
