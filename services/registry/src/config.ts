/** The registry's one configuration schema: it reads the environment and writes the README's table. */
import { common, defineConfig, integer, optionalText, text, natsConnectionSettings } from '@tunnelkey/config';

export const registryConfig = defineConfig({
  natsUrl: common.natsUrl,
  ...natsConnectionSettings,
  namespace: common.namespace,
  httpHost: common.httpHost,
  httpPort: integer(
    'HTTP_PORT',
    3101,
    'Port of /health, /ready (ready once the views are rebuilt), /metrics; 0 picks a free one (tests)',
    { max: 65_535 },
  ),
  challengeTtlSeconds: integer(
    'REGISTRY_CHALLENGE_TTL_SECONDS',
    300,
    'How long a device has to answer an identity challenge',
    {
      min: 5,
      max: 86_400,
    },
  ),
  challengeWindow: integer(
    'REGISTRY_CHALLENGE_WINDOW',
    1_000,
    'Identity challenges one instance keeps outstanding (sent, not answered yet); the next device is challenged when one is answered or expires',
    { min: 1, max: 1_000_000 },
  ),
  challengeRetrySeconds: integer(
    'REGISTRY_CHALLENGE_RETRY_SECONDS',
    30,
    'A device that has not answered its identity challenge within this is sent it again (same challenge); the wait doubles after each send',
    { min: 1, max: 86_400 },
  ),
  logLevel: common.logLevel,
  bulkConcurrency: integer('REGISTRY_BULK_CONCURRENCY', 64, 'Appends in flight per import or verify call', {
    min: 1,
    max: 4096,
  }),
  uplinkConcurrency: integer('REGISTRY_UPLINK_CONCURRENCY', 256, 'Device messages handled at once', {
    min: 1,
    max: 65_536,
  }),
  uplinkRatePerMinute: integer(
    'REGISTRY_UPLINK_RATE_PER_MINUTE',
    60,
    'Device messages per minute one device id may send after its burst; more are dropped unanswered',
    { min: 1, max: 600_000 },
  ),
  uplinkBurst: integer('REGISTRY_UPLINK_BURST', 20, 'Device messages one device id may send at once', {
    min: 1,
    max: 100_000,
  }),
  trackedDevices: integer(
    'REGISTRY_TRACKED_DEVICES',
    100_000,
    'Device ids remembered per replica for rate limits, replay counters and announcements (the oldest is forgotten)',
    { min: 100, max: 10_000_000 },
  ),
  announcementTtlSeconds: integer(
    'REGISTRY_ANNOUNCEMENT_TTL_SECONDS',
    3600,
    'How long an announcement of an unknown device is remembered (in memory, never written) for an open enrolment-key request',
    { min: 10, max: 604_800 },
  ),
  integrityCheckMs: integer(
    'REGISTRY_INTEGRITY_CHECK_MS',
    1_000,
    'How often the devices heartbeating to this replica are checked for silence longer than their policy allows (0: never)',
    { min: 0, max: 3_600_000 },
  ),
  platformKeyFile: optionalText(
    'PLATFORM_KEY_FILE',
    'PKCS#8 file (PEM or DER) of the key downlinks are signed with; this or PLATFORM_KEY is required',
    { secret: true },
  ),
  platformKey: optionalText('PLATFORM_KEY', 'The same key as base64 PKCS#8, when no file is given', { secret: true }),
  platformKeyId: text('PLATFORM_KEY_ID', 'platform-1', 'Key id the downlinks name (devices pin the key under it)'),
});

export type RegistryConfig = ReturnType<typeof registryConfig.read>;
