/** Onboarding's one configuration schema: environment, defaults, validation and the README table. */
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
import { pidFileReloader } from './mosquitto/broker-trust-files.js';
import type { MosquittoHostBinding } from './mosquitto/mosquitto-target.js';

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
  httpPort: integer('HTTP_PORT', 3103, 'Port of /health, /ready and /metrics (0 picks a free one)', { max: 65_535 }),
  instanceId,
  onboardChunkSize: integer('ONBOARDING_CHUNK_SIZE', 500, 'Devices per dynamic-security request when onboarding', {
    min: 1,
  }),
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
    "SHA-256 fingerprint of the platform's root CA certificate (hex, colons allowed, as `openssl x509 -noout -fingerprint -sha256` prints it): targets get only issuing CA chains that verify under it, and CRLs those CAs signed. Unset, no trust is installed anywhere and /ready fails",
  ),
  targetSecretsDir: optionalText(
    'ONBOARDING_TARGET_SECRETS_DIR',
    "Directory of the targets' admin password files (a mounted secret; RegisterTarget names the file in admin.passwordFile)",
  ),
  mosquittoBindings: optionalText(
    'MOSQUITTO_BINDINGS',
    'Broker files this service manages, per target id or `*` (JSON: caFile, crlFile, pidFile, logFile)',
  ),
});

export type OnboardingConfig = ConfigOf<typeof onboardingConfigSchema.settings>;

export function onboardingConfigFromEnv(env: Env = process.env): OnboardingConfig {
  const config = onboardingConfigSchema.read(env);
  return {
    ...config,
    instanceId: config.instanceId || instanceName(env.HOSTNAME ?? hostname()) || 'onboarding-0',
    trustedRootSha256: pinnedRootSha256Of(config.trustedRootSha256),
  };
}

type BindingEntry = { caFile?: string; crlFile?: string; pidFile?: string; logFile?: string };

/**
 * Broker files this service manages, per target id (or `*`), from MOSQUITTO_BINDINGS (JSON):
 * `{"*": {"caFile": "/mosquitto/trust/ca.pem", "crlFile": "/mosquitto/trust/crl.pem",
 * "pidFile": "/mosquitto/run/mosquitto.pid", "logFile": "/mosquitto/log/mosquitto.log"}}`.
 */
export function mosquittoBindingsOf(json: string | undefined): (targetId: string) => MosquittoHostBinding | undefined {
  if (!json) return () => undefined;
  let parsed: Record<string, BindingEntry>;
  try {
    parsed = JSON.parse(json) as typeof parsed;
  } catch (error) {
    throw new OnboardingConfigError(
      'MOSQUITTO_BINDINGS must be JSON',
      { variable: 'MOSQUITTO_BINDINGS' },
      { cause: error },
    );
  }
  return (targetId) => {
    const entry = parsed[targetId] ?? parsed['*'];
    if (!entry) return undefined;
    return {
      ...(entry.caFile
        ? { trust: { caFile: entry.caFile, ...(entry.crlFile ? { crlFile: entry.crlFile } : {}) } }
        : {}),
      ...(entry.pidFile ? { reloader: pidFileReloader(entry.pidFile) } : {}),
      ...(entry.logFile ? { logFile: entry.logFile } : {}),
    };
  };
}

export function mosquittoBindingsFromEnv(
  env: Env = process.env,
): (targetId: string) => MosquittoHostBinding | undefined {
  return mosquittoBindingsOf(env.MOSQUITTO_BINDINGS?.trim() || undefined);
}
