/**
 * CA configuration from the environment, with defaults that work on loopback. Secrets (the KEK,
 * the platform key) are loaded elsewhere and never copied into this object.
 */
import { hostname } from 'node:os';
import { CaConfigError } from './errors.js';

export interface CaConfig {
  natsUrl: string;
  /** '' in production; a unique token per test. Prefixes streams, subjects and KV buckets. */
  namespace: string;
  /** HTTP port of health/ready/metrics (and later the CRL endpoint); 0 picks a free one. */
  httpPort: number;
  /** Certificates name `<crlBaseUrl>/<authorityId>.crl` as their CRL distribution point. */
  crlBaseUrl: string;
  /** Distinguishes this instance's durable consumers from other CA instances' (each needs every event). */
  instanceId: string;
  /** CSRs processed at once per instance: bounds memory and keeps signing latency flat. */
  maxConcurrentIssuance: number;
  /** Validity of CA certificates. */
  rootLifetimeDays: number;
  issuingLifetimeDays: number;
  /** Subject organisation of the CA certificates. */
  organization: string;
  /** CRL nextUpdate - thisUpdate (CA_CRL_VALIDITY_HOURS, default 168). */
  crlValidityHours?: number;
  /** How often the CA checks for CRLs past half their validity (CA_CRL_REFRESH_CHECK_MS, default 10 min). */
  crlRefreshCheckMs?: number;
}

const positiveInteger = (env: Record<string, string | undefined>, name: string, fallback: number): number => {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new CaConfigError(`${name} must be a non-negative integer`, { variable: name });
  return value;
};

/** Reads the CA's settings from the environment (usually process.env). */
export function caConfigFromEnv(env: Record<string, string | undefined> = process.env): CaConfig {
  const httpPort = positiveInteger(env, 'HTTP_PORT', 3102);
  const crlBaseUrl = (env.CRL_BASE_URL ?? `http://127.0.0.1:${httpPort}/crl`).replace(/\/+$/, '');
  if (!/^https?:\/\/\S+$/.test(crlBaseUrl)) throw new CaConfigError('CRL_BASE_URL must be an http(s) URL', { variable: 'CRL_BASE_URL' });
  const instanceId = (env.CA_INSTANCE_ID ?? env.HOSTNAME ?? hostname()).replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 40) || 'ca-0';
  return {
    natsUrl: env.NATS_URL ?? 'nats://127.0.0.1:4222',
    namespace: env.TUNNELKEY_NAMESPACE ?? '',
    httpPort,
    crlBaseUrl,
    instanceId,
    maxConcurrentIssuance: positiveInteger(env, 'CA_MAX_CONCURRENT_ISSUANCE', 64) || 64,
    rootLifetimeDays: positiveInteger(env, 'CA_ROOT_LIFETIME_DAYS', 20 * 365),
    issuingLifetimeDays: positiveInteger(env, 'CA_ISSUING_LIFETIME_DAYS', 10 * 365),
    organization: env.CA_ORGANIZATION ?? 'tunnelkey',
    crlValidityHours: positiveInteger(env, 'CA_CRL_VALIDITY_HOURS', 168) || 168,
    crlRefreshCheckMs: positiveInteger(env, 'CA_CRL_REFRESH_CHECK_MS', 600_000) || 600_000,
  };
}
