import { namespacePattern } from '@tunnelkey/contracts';
import { RegistryConfigError } from './shared/registry-errors.js';

/** The registry's settings from the environment; every default works on loopback. */
export interface RegistryConfig {
  /** NATS_URL, default nats://127.0.0.1:4222. */
  natsUrl: string;
  /** TUNNELKEY_NAMESPACE, default '' (production). */
  namespace: string;
  /** HTTP_PORT for /health, /ready, /metrics; default 0 (a free port). */
  httpPort: number;
  /** REGISTRY_CHALLENGE_TTL_SECONDS, default 300. */
  challengeTtlSeconds: number;
  /** LOG_LEVEL, default info. */
  logLevel: string;
  /** REGISTRY_BULK_CONCURRENCY, default 64: appends in flight per import/verify call. */
  bulkConcurrency: number;
  /** REGISTRY_UPLINK_CONCURRENCY, default 256: device messages handled at once. */
  uplinkConcurrency: number;
}

export function registryConfigFromEnv(env: Record<string, string | undefined> = process.env): RegistryConfig {
  const namespace = env.TUNNELKEY_NAMESPACE ?? '';
  if (namespace !== '' && !new RegExp(namespacePattern).test(namespace)) {
    throw new RegistryConfigError(`TUNNELKEY_NAMESPACE must match ${namespacePattern}`, { variable: 'TUNNELKEY_NAMESPACE' });
  }
  return {
    natsUrl: env.NATS_URL ?? 'nats://127.0.0.1:4222',
    namespace,
    httpPort: integer(env, 'HTTP_PORT', 0, 0, 65_535),
    challengeTtlSeconds: integer(env, 'REGISTRY_CHALLENGE_TTL_SECONDS', 300, 5, 86_400),
    logLevel: env.LOG_LEVEL ?? 'info',
    bulkConcurrency: integer(env, 'REGISTRY_BULK_CONCURRENCY', 64, 1, 4096),
    uplinkConcurrency: integer(env, 'REGISTRY_UPLINK_CONCURRENCY', 256, 1, 65_536),
  };
}

function integer(env: Record<string, string | undefined>, variable: string, fallback: number, min: number, max: number): number {
  const raw = env[variable];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new RegistryConfigError(`${variable} must be an integer from ${min} to ${max}`, { variable });
  return value;
}
