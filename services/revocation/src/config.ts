import { hostname } from 'node:os';
import { namespacePattern } from '@tunnelkey/contracts';
import { RevocationConfigError } from './errors.js';

/** The revocation service's settings from the environment; every default works on loopback. */
export interface RevocationConfig {
  /** NATS_URL, default nats://127.0.0.1:4222. */
  natsUrl: string;
  /** TUNNELKEY_NAMESPACE, default '' (production). */
  namespace: string;
  /** HTTP_PORT for /health, /ready, /metrics and the revocation queries; default 0 (a free port). */
  httpPort: number;
  /** REVOCATION_INSTANCE_ID, default the host name: names this instance's fact consumers. */
  instanceId: string;
  /** REVOCATION_RETRY_MS, default 1000: how soon a step that failed (a store outage) is tried again. */
  retryMs: number;
}

export function revocationConfigFromEnv(env: Record<string, string | undefined> = process.env): RevocationConfig {
  const namespace = env.TUNNELKEY_NAMESPACE ?? '';
  if (namespace !== '' && !new RegExp(namespacePattern).test(namespace)) throw new RevocationConfigError(`TUNNELKEY_NAMESPACE must match ${namespacePattern}`, { variable: 'TUNNELKEY_NAMESPACE' });
  const integer = (variable: string, fallback: number, min: number, max: number) => {
    const raw = env[variable];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) throw new RevocationConfigError(`${variable} must be an integer from ${min} to ${max}`, { variable });
    return value;
  };
  return {
    natsUrl: env.NATS_URL ?? 'nats://127.0.0.1:4222',
    namespace,
    httpPort: integer('HTTP_PORT', 0, 0, 65_535),
    instanceId: (env.REVOCATION_INSTANCE_ID ?? hostname()).replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 40) || 'revocation-0',
    retryMs: integer('REVOCATION_RETRY_MS', 1000, 10, 60_000),
  };
}
