/**
 * The CA's configuration: one schema (env variable, default, check, documentation) that reads the
 * environment and writes the README's configuration table. Defaults work on loopback. The secrets
 * (KEK, platform key) are read with it but never kept in the CaConfig the service passes around.
 */
import { hostname } from 'node:os';
import {
  common,
  defineConfig,
  integer,
  optionalText,
  text,
  url,
  type Env,
  natsConnectionSettings,
} from '@tunnelkey/config';

export const caConfigSchema = defineConfig({
  natsUrl: common.natsUrl,
  ...natsConnectionSettings,
  namespace: common.namespace,
  logLevel: common.logLevel,
  httpHost: common.httpHost,
  httpPort: integer(
    'HTTP_PORT',
    3102,
    'HTTP port of health, readiness, metrics and the CRL distribution point (0: any free port)',
    { max: 65_535 },
  ),
  crlBaseUrl: {
    ...url('CRL_BASE_URL', '', 'Certificates name `<CRL_BASE_URL>/<authorityId>.crl` as their CRL distribution point', [
      'http',
      'https',
    ]),
    fallback: undefined as string | undefined,
    shownDefault: '`http://127.0.0.1:<HTTP_PORT>/crl`',
  },
  instanceId: optionalText('CA_INSTANCE_ID', 'Names this instance in logs (default: the host name)'),
  maxConcurrentIssuance: integer(
    'CA_MAX_CONCURRENT_ISSUANCE',
    64,
    'CSRs one instance works on at once: bounds memory and keeps signing latency flat',
    { min: 1 },
  ),
  csrWindow: integer(
    'CA_CSR_WINDOW',
    1_000,
    'CSR requests one instance keeps outstanding (asked, not answered yet); the next device is asked when one is answered or expires',
    { min: 1 },
  ),
  csrRetrySeconds: integer(
    'CA_CSR_RETRY_SECONDS',
    30,
    'A device that has not answered its CSR request within this is asked again (same requestId); the wait doubles after each ask',
    { min: 1 },
  ),
  csrExpirySeconds: integer(
    'CA_CSR_EXPIRY_SECONDS',
    600,
    'A CSR request still unanswered this long after the first ask is given up (recorded as CsrRequestExpired)',
    { min: 1 },
  ),
  renewalExpirySeconds: integer(
    'CA_RENEWAL_EXPIRY_SECONDS',
    3_600,
    'A certificate renewal not completed (new certificate issued and the device switched to it) this long after it was requested is given up; the previous certificate stays valid',
    { min: 1 },
  ),
  renewalCheckSeconds: integer(
    'CA_RENEWAL_CHECK_SECONDS',
    60,
    "How often the CA looks for certificates past their policy's share of lifetime and renews them (0: no scheduled renewal)",
    { min: 0 },
  ),
  rootLifetimeDays: integer('CA_ROOT_LIFETIME_DAYS', 20 * 365, 'Validity of the root CA certificate, in days', {
    min: 1,
  }),
  issuingLifetimeDays: integer(
    'CA_ISSUING_LIFETIME_DAYS',
    10 * 365,
    "Validity of an owner's issuing CA certificate, in days",
    { min: 1 },
  ),
  organization: text('CA_ORGANIZATION', 'tunnelkey', 'Subject organisation of the CA certificates'),
  crlValidityHours: integer(
    'CA_CRL_VALIDITY_HOURS',
    168,
    'CRL nextUpdate - thisUpdate, in hours; a CRL is re-published at half of it',
    { min: 1 },
  ),
  crlRefreshCheckMs: integer(
    'CA_CRL_REFRESH_CHECK_MS',
    600_000,
    'How often the CA looks for CRLs past half their validity, in ms',
    { min: 1 },
  ),
  kek: optionalText('CA_KEK', 'Key-encryption key of the CA keys at rest (base64 or hex, 32 bytes); or CA_KEK_FILE', {
    secret: true,
  }),
  kekFile: optionalText('CA_KEK_FILE', 'File holding the KEK (instead of CA_KEK)'),
  platformKeyFile: optionalText(
    'PLATFORM_KEY_FILE',
    "File holding the platform's signing key (PKCS#8) for device downlinks; or PLATFORM_KEY",
  ),
  platformKey: optionalText('PLATFORM_KEY', 'The platform signing key, PKCS#8 base64 (instead of PLATFORM_KEY_FILE)', {
    secret: true,
  }),
  platformKeyId: text('PLATFORM_KEY_ID', 'platform-1', 'Key id devices see on platform-signed messages'),
});

/** The CA's settings, secrets left out. */
export interface CaConfig {
  natsUrl: string;
  /** '' in production; a unique token per test. Prefixes streams, subjects and buckets. */
  namespace: string;
  logLevel: string;
  /** Interface of the HTTP server (HTTP_HOST; startService reads it). */
  httpHost: string;
  /** HTTP port of health/ready/metrics and the CRL endpoint; 0 picks a free one. */
  httpPort: number;
  /** Certificates name `<crlBaseUrl>/<authorityId>.crl` as their CRL distribution point. */
  crlBaseUrl: string;
  /** Names the instance in logs. */
  instanceId: string;
  /** CSRs processed at once per instance. */
  maxConcurrentIssuance: number;
  /** CSR requests outstanding at once per instance (CertifyDevices' window). */
  csrWindow: number;
  /** First wait for a device's answer before it is asked again; doubled after each ask. */
  csrRetrySeconds: number;
  /** From the first ask to giving the request up. */
  csrExpirySeconds: number;
  /** From a renewal's request to giving it up unfinished. */
  renewalExpirySeconds: number;
  /** Period of the scheduled-renewal check; 0 turns scheduled renewal off. */
  renewalCheckSeconds: number;
  rootLifetimeDays: number;
  issuingLifetimeDays: number;
  organization: string;
  /** CRL nextUpdate - thisUpdate. */
  crlValidityHours: number;
  /** How often the CA checks for CRLs past half their validity. */
  crlRefreshCheckMs: number;
}

/** The environment variables of the secrets, as the KEK and platform-key loaders read them. */
export type CaSecretsEnv = Pick<
  Env,
  'CA_KEK' | 'CA_KEK_FILE' | 'PLATFORM_KEY_FILE' | 'PLATFORM_KEY' | 'PLATFORM_KEY_ID'
>;

/** Reads and checks the CA's settings (ConfigError names the variable); the secrets go their own way. */
export function caConfigFromEnv(env: Env = process.env): CaConfig {
  const {
    kek: _kek,
    kekFile: _kekFile,
    platformKeyFile: _file,
    platformKey: _key,
    platformKeyId: _id,
    natsUser: _user,
    natsPassword: _password,
    natsToken: _token,
    natsNkeySeedFile: _nkey,
    natsCredsFile: _creds,
    natsTlsCaFile: _ca,
    natsTlsCertFile: _cert,
    natsTlsKeyFile: _tlsKey,
    ...read
  } = caConfigSchema.read(env);
  const instanceId =
    (read.instanceId ?? env.HOSTNAME ?? hostname()).replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 40) || 'ca-0';
  return { ...read, crlBaseUrl: read.crlBaseUrl ?? `http://127.0.0.1:${read.httpPort}/crl`, instanceId };
}

/** The secrets' variables, checked by the same schema, for loadKek and loadPlatformKey. */
export function caSecretsEnv(env: Env = process.env): CaSecretsEnv {
  const { kek, kekFile, platformKeyFile, platformKey, platformKeyId } = caConfigSchema.read(env);
  return {
    CA_KEK: kek,
    CA_KEK_FILE: kekFile,
    PLATFORM_KEY_FILE: platformKeyFile,
    PLATFORM_KEY: platformKey,
    PLATFORM_KEY_ID: platformKeyId,
  };
}
