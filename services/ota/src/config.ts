/** The OTA service's one configuration schema: environment, defaults, validation and the README table. */
import {
  common,
  defineConfig,
  integer,
  natsConnectionSettings,
  optionalText,
  type ConfigOf,
  type Env,
} from '@tunnelkey/config';
import { defaultMaxFirmwareImageBytes, maxFirmwareChunkBytes } from '@tunnelkey/contracts';

export const otaConfigSchema = defineConfig({
  natsUrl: common.natsUrl,
  ...natsConnectionSettings,
  namespace: common.namespace,
  httpHost: common.httpHost,
  httpPort: integer('HTTP_PORT', 3105, 'Port of /health, /ready and /metrics (0 picks a free one)', { max: 65_535 }),
  maxImageBytes: integer(
    'OTA_MAX_IMAGE_BYTES',
    defaultMaxFirmwareImageBytes,
    'Largest firmware image accepted (bytes); the gateway stops an upload past the same default',
    { min: 1024, max: 256 * 1024 * 1024 },
  ),
  chunkBytes: integer(
    'OTA_CHUNK_BYTES',
    64 * 1024,
    'Plaintext bytes per encrypted chunk a device fetches (one binary frame each, under NATS max_payload)',
    { min: 1024, max: maxFirmwareChunkBytes },
  ),
  deadlineSeconds: integer(
    'OTA_UPDATE_DEADLINE_SECONDS',
    900,
    'Default time an offered device has to send its boot report (StartRollout may set its own)',
    { min: 1 },
  ),
  metadataLifetimeDays: integer(
    'OTA_METADATA_LIFETIME_DAYS',
    30,
    'Validity of signed targets metadata; devices refuse it once expired',
    { min: 1 },
  ),
  delegationLifetimeDays: integer(
    'OTA_DELEGATION_LIFETIME_DAYS',
    365,
    "Validity of the platform key's delegation to the signing keys",
    { min: 1 },
  ),
  signingKeyGeneration: integer(
    'OTA_SIGNING_KEY_GENERATION',
    1,
    'Generation of the firmware-signing keys (derived under the KEK); raising it rotates them',
    { min: 1, max: 65_535 },
  ),
  offerWindow: integer('OTA_OFFER_WINDOW', 1000, 'Devices offered and not yet answered at once', { min: 1 }),
  downloadWindow: integer(
    'OTA_DOWNLOAD_WINDOW',
    128,
    'Devices offered and not yet reported (downloading) at once, over all rollouts: more wait in line for the bus',
    { min: 1 },
  ),
  offerRetryMs: integer(
    'OTA_OFFER_RETRY_MS',
    2_000,
    'Wait before an unanswered offer is sent again (ms; then doubling, until the deadline)',
    { min: 10 },
  ),
  offerAnswerSeconds: integer(
    'OTA_OFFER_ANSWER_SECONDS',
    120,
    'An offer no chunk request or report answers this long after its first send (sent again meanwhile) fails as timeout, so its download slot goes to the next device (at most the update deadline)',
    { min: 1 },
  ),
  keysWaitMs: integer(
    'OTA_KEYS_WAIT_MS',
    3_000,
    "How long StartRollout waits for devices asked for their firmware keys (ms); still without, they're skipped",
    { min: 0 },
  ),
  tickMs: integer('OTA_TICK_MS', 200, 'How often rollouts are driven (waves, offers, deadlines) (ms)', { min: 10 }),
  logLevel: common.logLevel,
  kek: optionalText(
    'OTA_KEK',
    'Key-encryption key the signing keys and the rollout content keys are derived under (32 bytes, hex or base64); or OTA_KEK_FILE',
    { secret: true },
  ),
  kekFile: optionalText('OTA_KEK_FILE', 'File holding the KEK (instead of OTA_KEK)'),
});

/** The settings the service passes around: the KEK is not one of them (loadKek reads it). */
export type OtaConfig = Omit<ConfigOf<typeof otaConfigSchema.settings>, 'kek' | 'kekFile'>;

export function otaConfigFromEnv(env: Env = process.env): OtaConfig {
  // The KEK is read by loadKek (OTA_KEK / OTA_KEK_FILE), never kept in the config.
  const { kek: _kek, kekFile: _kekFile, ...config } = otaConfigSchema.read(env);
  return config;
}
