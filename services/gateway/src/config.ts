/** The gateway's one configuration schema: it reads the environment and writes the README's table. */
import {
  common,
  ConfigError,
  defineConfig,
  integer,
  optionalText,
  text,
  type Env,
  type Setting,
  natsConnectionSettings,
} from '@tunnelkey/config';

/** A value the schema's builders cannot check; `read` passes a ConfigError through as it is. */
const refuse = (variable: string, message: string): never => {
  throw new ConfigError(`${variable} ${message}`, { variable });
};

/** `64kb`, `32mb`, `1048576`: a size body parsers take; anything else is refused. */
const byteSize = (variable: string, raw: string): string =>
  /^\d{1,10}(?:b|kb|mb)?$/i.test(raw.trim())
    ? raw.trim().toLowerCase()
    : refuse(variable, 'must be a size like 64kb or 32mb');

export const gatewayConfig = defineConfig({
  natsUrl: common.natsUrl,
  ...natsConnectionSettings,
  namespace: common.namespace,
  httpPort: integer(
    'GATEWAY_PORT',
    8080,
    'Port of the API, the console and /health /ready /metrics (unset: HTTP_PORT); 0 picks a free one',
    { max: 65_535 },
  ),
  httpHost: text('GATEWAY_HOST', '127.0.0.1', 'Interface the HTTP server binds to (unset: HTTP_HOST)'),
  adminToken: {
    ...optionalText(
      'GATEWAY_ADMIN_TOKEN',
      'Bootstrap admin token, at least 24 random characters (unset: the first gateway on an empty ' +
        'namespace creates one and shows it once on stdout)',
      { secret: true },
    ),
    // A short token is guessable admin access: refused rather than accepted.
    parse: (raw: string) =>
      raw.length >= 24 ? raw : refuse('GATEWAY_ADMIN_TOKEN', 'must be at least 24 characters of random text'),
  } satisfies Setting<string | undefined>,
  ticketKey: {
    env: 'GATEWAY_TICKET_KEY',
    doc:
      'Key of the SSE tickets, at least 32 bytes in hex, shared by the instances so that a ticket ' +
      'works on any of them (unset: random per process)',
    fallback: undefined,
    shownDefault: 'unset',
    secret: true,
    parse: (raw: string): Uint8Array | undefined =>
      /^(?:[0-9a-fA-F]{2}){32,}$/.test(raw)
        ? Buffer.from(raw, 'hex')
        : refuse('GATEWAY_TICKET_KEY', 'must be at least 32 bytes in hex'),
  } satisfies Setting<Uint8Array | undefined>,
  bodyLimit: {
    ...text(
      'GATEWAY_BODY_LIMIT',
      '64kb',
      'Largest request body of every route but the identity import (read before the token is checked)',
    ),
    parse: (raw: string) => byteSize('GATEWAY_BODY_LIMIT', raw),
  } satisfies Setting<string>,
  importBodyLimit: {
    ...text(
      'GATEWAY_IMPORT_BODY_LIMIT',
      '32mb',
      'Largest identity file imported in one request; read only once the token and its role are checked',
    ),
    parse: (raw: string) => byteSize('GATEWAY_IMPORT_BODY_LIMIT', raw),
  } satisfies Setting<string>,
  rateLimit: integer(
    'GATEWAY_RATE_LIMIT',
    50,
    'Requests per second per API token (bursts of twice as many); past it 429 with Retry-After',
    { min: 1, max: 100_000 },
  ),
  anonymousRateLimit: integer(
    'GATEWAY_ANONYMOUS_RATE_LIMIT',
    20,
    "Requests per second per client address without a valid token (failed logins; the console's own files are not counted)",
    { min: 1, max: 100_000 },
  ),
  tlsCertFile: optionalText('TLS_CERT_FILE', 'PEM certificate (chain) of HTTPS; with TLS_KEY_FILE, unset: plain HTTP'),
  tlsKeyFile: optionalText('TLS_KEY_FILE', 'PEM private key of HTTPS; set with TLS_CERT_FILE'),
  metricsToken: optionalText(
    'METRICS_TOKEN',
    'Bearer token Prometheus sends for /metrics (unset: /metrics answers requests from this machine only)',
    { secret: true },
  ),
  mongoUrl: optionalText(
    'MONGO_URL',
    'MongoDB of the read models; unset, they live in the embedded store, rebuilt from the log at start',
    {
      secret: true,
    },
  ),
  mongoDatabase: optionalText(
    'MONGO_DATABASE',
    "Database of the read models (default: the URL's path, else `tunnelkey`)",
  ),
  logLevel: common.logLevel,
});

export type GatewayConfig = ReturnType<typeof gatewayConfig.read>;

/** The configuration from the environment; GATEWAY_PORT / GATEWAY_HOST fall back on HTTP_PORT / HTTP_HOST, as every service reads them. */
export function gatewayConfigFromEnv(env: Env = process.env): GatewayConfig {
  const port = env.GATEWAY_PORT?.trim() ? env.GATEWAY_PORT : env.HTTP_PORT;
  const host = env.GATEWAY_HOST?.trim() ? env.GATEWAY_HOST : env.HTTP_HOST;
  return gatewayConfig.read({ ...env, GATEWAY_PORT: port, GATEWAY_HOST: host });
}
