/** Starts the OTA service (main.ts, tests, the demo): configuration from the environment unless given. */
import { readFile } from 'node:fs/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import { loadPlatformKey, type PlatformKey } from '@tunnelkey/device-protocol';
import type { EventStore } from '@tunnelkey/eventstore';
import { startService, type RunningService } from '@tunnelkey/messaging';
import { loadKek, type Kek } from '@tunnelkey/pki';
import { pino } from 'pino';
import { otaConfigFromEnv, type OtaConfig } from './config.js';
import { OtaConfigError } from './errors.js';
import { OtaModule, type OtaModuleOptions } from './ota.module.js';
import { RegisterFirmwareHandler } from './register-firmware/register-firmware.handler.js';
import { UpdateReportUplinkController } from './report-update/update-report.uplink-controller.js';
import { RolloutDriverJob } from './rollout-process/rollout-driver.job.js';
import { FirmwareChunkUplinkController } from './serve-chunks/firmware-chunk.uplink-controller.js';
import { FirmwareCatalogView } from './views/firmware-catalog.view.js';
import { FleetView } from './views/fleet.view.js';
import { RolloutProgressView } from './views/rollout-progress.view.js';

export interface StartOtaOptions extends Partial<Omit<OtaModuleOptions, 'config' | 'platformKey' | 'kek'>> {
  nats?: NatsConnection;
  /** Overrides TUNNELKEY_NAMESPACE. */
  namespace?: string;
  config?: Partial<OtaConfig>;
  env?: Record<string, string | undefined>;
  /** Default: from PLATFORM_KEY_FILE / PLATFORM_KEY. */
  platformKey?: PlatformKey;
  /** Default: from OTA_KEK / OTA_KEK_FILE. */
  kek?: Kek;
  /** Default: JetStream on the connection (tests may pass an InMemoryEventStore). */
  eventStore?: EventStore;
}

export interface OtaViews {
  fleet: FleetView;
  catalog: FirmwareCatalogView;
  progress: RolloutProgressView;
}

export interface RunningOta {
  service: RunningService;
  /** The service's read models (tests and diagnostics). */
  views: OtaViews;
  /** The rollout process (tests and the bench drive it or read its figures). */
  driver: RolloutDriverJob;
  chunks: FirmwareChunkUplinkController;
  reports: UpdateReportUplinkController;
  firmware: RegisterFirmwareHandler;
  stop(): Promise<void>;
}

export async function startOta(options: StartOtaOptions = {}): Promise<RunningOta> {
  const env = options.env ?? process.env;
  const fromEnv = otaConfigFromEnv(env);
  const namespace = options.namespace !== undefined ? { namespace: options.namespace } : {};
  const config: OtaConfig = { ...fromEnv, ...options.config, ...namespace };
  const platformKey = options.platformKey ?? (await loadPlatformKey(env));
  if (!platformKey)
    throw new OtaConfigError('no platform key: set PLATFORM_KEY_FILE or PLATFORM_KEY', {
      variable: 'PLATFORM_KEY_FILE',
    });
  const kek = options.kek ?? (await loadKek({ env, readFile: (path) => readFile(path), variable: 'OTA_KEK' }));
  const {
    nats,
    eventStore,
    kek: _kek,
    namespace: _namespace,
    config: _config,
    env: _env,
    platformKey: _platformKey,
    ...rest
  } = options;
  const logger = options.logger ?? pino({ name: 'ota', level: config.logLevel });
  const service = await startService({
    service: 'ota',
    module: OtaModule.forRoot({ ...rest, logger, config, platformKey, kek }),
    namespace: config.namespace,
    httpPort: config.httpPort,
    natsConfig: config,
    ...(nats ? { nats } : {}),
    ...(eventStore ? { eventStore } : {}),
  });
  const { app } = service;
  logger.info({ event: 'ota.started', namespace: config.namespace }, 'ota started');
  const driver = app.get(RolloutDriverJob);
  return {
    service,
    views: { fleet: app.get(FleetView), catalog: app.get(FirmwareCatalogView), progress: app.get(RolloutProgressView) },
    driver,
    chunks: app.get(FirmwareChunkUplinkController),
    reports: app.get(UpdateReportUplinkController),
    firmware: app.get(RegisterFirmwareHandler),
    // The driver stops even when the app's shutdown fails part way (its connection already closed:
    // a hook before the driver's throws); left running it would tick against a closed bus for good.
    stop: () => service.stop().finally(() => driver.onModuleDestroy()),
  };
}
