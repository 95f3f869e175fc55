/** Onboarding configuration from the environment, with defaults that work on loopback. Secrets are not kept here. */
import { hostname } from 'node:os';
import { OnboardingConfigError } from './errors.js';
import type { MosquittoHostBinding } from './mosquitto/mosquitto-target.js';
import { pidFileReloader } from './mosquitto/broker-trust-files.js';

export interface OnboardingConfig {
  natsUrl: string;
  namespace: string;
  httpPort: number;
  /** Distinguishes this instance's durable consumers (each instance needs every event). */
  instanceId: string;
  /** Devices per dynamic-security batch when onboarding. */
  onboardChunkSize: number;
  /** Device events written at once. */
  maxConcurrentAppends: number;
  /** How often periodic telemetry counters are recorded. */
  telemetryIntervalMs: number;
  /** Device aggregates whose state is kept in memory (~1.7 KiB each), so a connection or telemetry record needs no read. */
  deviceStateCacheSize: number;
}

const integer = (env: Record<string, string | undefined>, name: string, fallback: number): number => {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new OnboardingConfigError(`${name} must be a non-negative integer`, { variable: name });
  return value;
};

export function onboardingConfigFromEnv(env: Record<string, string | undefined> = process.env): OnboardingConfig {
  return {
    natsUrl: env.NATS_URL ?? 'nats://127.0.0.1:4222',
    namespace: env.TUNNELKEY_NAMESPACE ?? '',
    httpPort: integer(env, 'HTTP_PORT', 3103),
    instanceId: (env.ONBOARDING_INSTANCE_ID ?? env.HOSTNAME ?? hostname()).replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 40) || 'onboarding-0',
    onboardChunkSize: integer(env, 'ONBOARDING_CHUNK_SIZE', 500) || 500,
    maxConcurrentAppends: integer(env, 'ONBOARDING_MAX_CONCURRENT_APPENDS', 64) || 64,
    telemetryIntervalMs: integer(env, 'ONBOARDING_TELEMETRY_INTERVAL_MS', 30_000) || 30_000,
    deviceStateCacheSize: integer(env, 'ONBOARDING_DEVICE_STATE_CACHE_SIZE', 20_000),
  };
}

/**
 * Broker files this service manages, per target id (or `*`), from MOSQUITTO_BINDINGS (JSON):
 * `{"*": {"caFile": "/mosquitto/trust/ca.pem", "crlFile": "/mosquitto/trust/crl.pem", "pidFile": "/mosquitto/run/mosquitto.pid", "logFile": "/mosquitto/log/mosquitto.log"}}`.
 */
export function mosquittoBindingsFromEnv(env: Record<string, string | undefined> = process.env): (targetId: string) => MosquittoHostBinding | undefined {
  if (!env.MOSQUITTO_BINDINGS) return () => undefined;
  let parsed: Record<string, { caFile?: string; crlFile?: string; pidFile?: string; logFile?: string }>;
  try {
    parsed = JSON.parse(env.MOSQUITTO_BINDINGS) as typeof parsed;
  } catch (error) {
    throw new OnboardingConfigError('MOSQUITTO_BINDINGS must be JSON', { variable: 'MOSQUITTO_BINDINGS' }, { cause: error });
  }
  return (targetId) => {
    const entry = parsed[targetId] ?? parsed['*'];
    if (!entry) return undefined;
    return {
      ...(entry.caFile ? { trust: { caFile: entry.caFile, ...(entry.crlFile ? { crlFile: entry.crlFile } : {}) } } : {}),
      ...(entry.pidFile ? { reloader: pidFileReloader(entry.pidFile) } : {}),
      ...(entry.logFile ? { logFile: entry.logFile } : {}),
    };
  };
}
