/** The registry's one configuration schema: it reads the environment and writes the README's table. */
import { common, defineConfig, integer, optionalText, text } from '@tunnelkey/config';

export const registryConfig = defineConfig({
  natsUrl: common.natsUrl,
  namespace: common.namespace,
  httpPort: integer(
    'HTTP_PORT',
    0,
    'Port of /health, /ready (ready once the views are rebuilt), /metrics; 0 picks a free one',
    {
      max: 65_535,
    },
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
  logLevel: common.logLevel,
  bulkConcurrency: integer('REGISTRY_BULK_CONCURRENCY', 64, 'Appends in flight per import or verify call', {
    min: 1,
    max: 4096,
  }),
  uplinkConcurrency: integer('REGISTRY_UPLINK_CONCURRENCY', 256, 'Device messages handled at once', {
    min: 1,
    max: 65_536,
  }),
  platformKeyFile: optionalText(
    'PLATFORM_KEY_FILE',
    'PKCS#8 file (PEM or DER) of the key downlinks are signed with; this or PLATFORM_KEY is required',
    { secret: true },
  ),
  platformKey: optionalText('PLATFORM_KEY', 'The same key as base64 PKCS#8, when no file is given', { secret: true }),
  platformKeyId: text('PLATFORM_KEY_ID', 'platform-1', 'Key id the downlinks name (devices pin the key under it)'),
});

export type RegistryConfig = ReturnType<typeof registryConfig.read>;
