/** Onboarding's one configuration schema: environment, defaults, validation and the README table. */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import {
  common,
  defineConfig,
  integer,
  optionalText,
  type ConfigOf,
  type Env,
  type Setting,
  natsConnectionSettings,
} from '@tunnelkey/config';
import { OnboardingConfigError } from './errors.js';
import { pinnedRootSha256Of } from './install-trust/trust-checks.js';

const instanceName = (raw: string): string => raw.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 40);

/** Defaults to the host name, so the README's table reads the same on every machine. */
const instanceId: Setting<string> = {
  env: 'ONBOARDING_INSTANCE_ID',
  doc: 'Names this instance in its logs ([A-Za-z0-9_-], 40 characters at most; others become `-`)',
  fallback: '',
  shownDefault: '`HOSTNAME`, else the host name',
  parse: instanceName,
};

export const onboardingConfigSchema = defineConfig({
  natsUrl: common.natsUrl,
  ...natsConnectionSettings,
  namespace: common.namespace,
  httpHost: common.httpHost,
  httpPort: integer('HTTP_PORT', 3103, 'Port of /health, /ready and /metrics (0 picks a free one)', { max: 65_535 }),
  instanceId,
  onboardChunkSize: integer(
    'ONBOARDING_CHUNK_SIZE',
    500,
    'Devices decided on at once when onboarding (revocation is checked again before each chunk)',
    { min: 1 },
  ),
  targetCrlLifetimeMs: integer(
    'ONBOARDING_TARGET_CRL_LIFETIME_MS',
    7 * 24 * 3600_000,
    "Validity of a target CA's CRL (ms); a new one is installed past half of it",
    { min: 60_000 },
  ),
  parametersRetryMs: integer(
    'ONBOARDING_PARAMETERS_RETRY_MS',
    60_000,
    'How long an onboarded device may take to connect before it is sent its connection parameters again (ms; then doubling, at most hourly)',
    { min: 1_000 },
  ),
  targetRetrySeconds: integer(
    'ONBOARDING_TARGET_RETRY_SECONDS',
    300,
    'How long an onboarding run keeps trying an unreachable target (its trust install) before recording its devices failed, target-unreachable (s)',
    { min: 0 },
  ),
  maxConcurrentAppends: integer('ONBOARDING_MAX_CONCURRENT_APPENDS', 64, 'Device records written at once', { min: 1 }),
  telemetryIntervalMs: integer(
    'ONBOARDING_TELEMETRY_INTERVAL_MS',
    30_000,
    'How often the periodic telemetry counters are recorded (ms)',
    { min: 1 },
  ),
  deviceStateCacheSize: integer(
    'ONBOARDING_DEVICE_STATE_CACHE_SIZE',
    20_000,
    'Device aggregates kept in memory (~1.7 KiB each): a connection or telemetry record needs no read; 0 turns it off',
  ),
  logLevel: common.logLevel,
  trustedRootSha256: optionalText(
    'TRUSTED_ROOT_SHA256',
    "SHA-256 fingerprint of the platform's root CA certificate (hex, colons allowed, as `openssl x509 -noout -fingerprint -sha256` prints it): a device is issued a target certificate only when its platform certificate verifies under it. Unset, no device is onboarded and /ready fails",
  ),
  targetSecretsDir: optionalText(
    'ONBOARDING_TARGET_SECRETS_DIR',
    "Directory of the targets' admin password files (a mounted secret; RegisterTarget names the file in admin.passwordFile)",
  ),
  serverCaFiles: optionalText(
    'MOSQUITTO_SERVER_CA_FILES',
    'The CA of each broker\'s server certificate, sent to devices as serverCaPem: JSON, file per target id or `*` (`{"*": "/etc/tunnelkey/server-ca.pem"}`). A broker\'s own files are its agent\'s (services/broker-agent)',
  ),
  kek: optionalText(
    'ONBOARDING_KEK',
    "Key-encryption key each target CA's key is derived under (32 bytes, hex or base64); or ONBOARDING_KEK_FILE",
    { secret: true },
  ),
  kekFile: optionalText('ONBOARDING_KEK_FILE', 'File holding the KEK (instead of ONBOARDING_KEK)'),
});

/** The settings the service passes around: the KEK is not one of them (loadKek reads it). */
export type OnboardingConfig = Omit<ConfigOf<typeof onboardingConfigSchema.settings>, 'kek' | 'kekFile'>;

export function onboardingConfigFromEnv(env: Env = process.env): OnboardingConfig {
  // The KEK is read by loadKek (ONBOARDING_KEK / ONBOARDING_KEK_FILE), never kept in the config.
  const { kek: _kek, kekFile: _kekFile, ...config } = onboardingConfigSchema.read(env);
  return {
    ...config,
    instanceId: config.instanceId || instanceName(env.HOSTNAME ?? hostname()) || 'onboarding-0',
    trustedRootSha256: pinnedRootSha256Of(config.trustedRootSha256),
  };
}

/**
 * The CA of each broker's server certificate (MOSQUITTO_SERVER_CA_FILES: JSON, a file per target id
 * or `*`), read once at start: devices get it as `serverCaPem` in their connection parameters and
 * verify the broker with it. Bad JSON or an unreadable file is refused at start, naming the variable.
 */
export function serverCaPemOf(
  json: string | undefined,
  read: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): (targetId: string) => string | undefined {
  if (!json?.trim()) return () => undefined;
  const variable = 'MOSQUITTO_SERVER_CA_FILES';
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw new OnboardingConfigError(`${variable} must be JSON`, { variable }, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new OnboardingConfigError(`${variable} must map target ids (or *) to files`, { variable });
  const pems = new Map<string, string>();
  for (const [key, file] of Object.entries(parsed)) {
    if (typeof file !== 'string' || !file)
      throw new OnboardingConfigError(`${variable}["${key}"] must name a file`, { variable });
    try {
      pems.set(key, read(file));
    } catch (error) {
      throw new OnboardingConfigError(`${variable}["${key}"] cannot be read`, { variable }, { cause: error });
    }
  }
  return (targetId) => pems.get(targetId) ?? pems.get('*');
}
