import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, ConfigError, natsConnectionOptions } from '@tunnelkey/config';
import { loadPlatformKey, type PlatformKey } from '@tunnelkey/device-protocol';
import type { EventStore } from '@tunnelkey/eventstore';
import { startService, type RunningService } from '@tunnelkey/messaging';
import { pino, type Logger } from 'pino';
import { registryConfig, type RegistryConfig } from './config.js';
import { RecordCertificatesJob } from './record-certificate/record-certificates.job.js';
import { RegistryModule } from './registry.module.js';
import type { Clock } from './shared/clock.js';
import { BatchSummaryView, type BatchSummary } from './views/batch-summary.view.js';
import { DeviceByIdView, type DeviceDetail } from './views/device-by-id.view.js';
import { EnrolmentKeyRequestsView } from './views/enrolment-key-requests.view.js';

/** Settings a caller may pass instead of the environment (the secrets only through `env`). */
type OverridableConfig = Omit<RegistryConfig, 'platformKey' | 'platformKeyFile' | 'platformKeyId'>;

export interface StartRegistryOptions extends Partial<OverridableConfig> {
  /** An open connection to share (tests, the one-process demo); else one to `natsUrl` is opened and closed with the service. */
  nats?: NatsConnection;
  /** Else PLATFORM_KEY_FILE / PLATFORM_KEY from `env`. Required one way or the other. */
  platformKey?: PlatformKey;
  /** Where unset options are read from. Default process.env. */
  env?: Record<string, string | undefined>;
  logger?: Logger;
  clock?: Clock;
  /** Nest's own log levels (default errors and warnings). */
  nestLogger?: false | ('error' | 'warn' | 'log')[];
  /** The event store to run on (tests: an InMemoryEventStore); default JetStream on `nats`. */
  eventStore?: EventStore;
}

/** What the registry's views answer, for callers in the same process (tests, the demo). */
export interface RegistryReadModel {
  device(deviceId: string): DeviceDetail | undefined;
  batchSummary(batchId: string): BatchSummary | undefined;
  batchSummaries(): BatchSummary[];
  /** The last registry event the views hold. */
  readonly checkpoint: number;
}

export interface RunningRegistry {
  readonly service: RunningService;
  /** Base URL of /health, /ready, /metrics. */
  readonly url: string;
  readonly nats: NatsConnection;
  readonly namespace: string;
  readonly readModel: RegistryReadModel;
  /** Resolves once the registry follows the CA's events (the view of certificates to record is built). */
  caSubscriptionStarted(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the registry as a hybrid Nest service (commands over NATS + /health /ready /metrics).
 * Resolves once the views are rebuilt from the log and the device subscriptions are live.
 */
export async function startRegistry(options: StartRegistryOptions = {}): Promise<RunningRegistry> {
  const env = options.env ?? process.env;
  const config: RegistryConfig = { ...registryConfig.read(env), ...definedOnly(options) };
  const platformKey =
    options.platformKey ??
    (await loadPlatformKey({
      PLATFORM_KEY_FILE: config.platformKeyFile,
      PLATFORM_KEY: config.platformKey,
      PLATFORM_KEY_ID: config.platformKeyId,
    }));
  if (!platformKey) {
    throw new ConfigError('the platform key is missing: set PLATFORM_KEY_FILE or PLATFORM_KEY', {
      variable: 'PLATFORM_KEY_FILE',
    });
  }
  const logger = options.logger ?? pino({ name: 'registry', level: config.logLevel });
  const nats = options.nats ?? (await connectNats(await natsConnectionOptions(config, { name: 'registry' })));
  let service: RunningService;
  try {
    service = await startService({
      service: 'registry',
      module: RegistryModule.forRoot({
        config,
        platformKey,
        logger,
        ...(options.clock ? { clock: options.clock } : {}),
      }),
      namespace: config.namespace || undefined,
      nats,
      httpPort: config.httpPort,
      logger: options.nestLogger ?? ['error', 'warn'],
      ...(options.eventStore ? { eventStore: options.eventStore } : {}),
    });
  } catch (error) {
    if (!options.nats) await nats.close();
    throw error;
  }
  const devices = service.app.get(DeviceByIdView);
  const batches = service.app.get(BatchSummaryView);
  const requests = service.app.get(EnrolmentKeyRequestsView);
  const certificates = service.app.get(RecordCertificatesJob);
  logger.info(
    { event: 'registry.started', namespace: config.namespace, url: service.url, keyId: platformKey.keyId },
    'registry started',
  );
  return {
    service,
    url: service.url,
    nats,
    namespace: config.namespace,
    readModel: {
      device: (deviceId) => devices.device(deviceId),
      batchSummary: (batchId) => batches.batchSummary(batchId),
      batchSummaries: () => batches.batchSummaries(),
      get checkpoint() {
        return Math.max(devices.checkpoint, batches.checkpoint, requests.checkpoint);
      },
    },
    caSubscriptionStarted: () => certificates.started(),
    async stop() {
      await service.stop();
      if (!options.nats) await nats.drain();
      logger.info({ event: 'registry.stopped', namespace: config.namespace }, 'registry stopped');
    },
  };
}

const overridable: readonly (keyof OverridableConfig)[] = [
  'natsUrl',
  'namespace',
  'httpPort',
  'challengeTtlSeconds',
  'logLevel',
  'bulkConcurrency',
  'uplinkConcurrency',
];

function definedOnly(options: StartRegistryOptions): Partial<OverridableConfig> {
  return Object.fromEntries(overridable.filter((key) => options[key] !== undefined).map((key) => [key, options[key]]));
}
