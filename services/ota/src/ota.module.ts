/**
 * The OTA service's Nest module: binds its ports to adapters (or to the doubles a test passes) and
 * lists its views, handlers, controllers and jobs. No logic.
 */
import { Module, type DynamicModule } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import type { BoundedContext } from '@tunnelkey/contracts';
import type { PlatformKey } from '@tunnelkey/device-protocol';
import type { EventStore } from '@tunnelkey/eventstore';
import { EVENT_STORE, JETSTREAM_REPLICAS, NATS_CONNECTION, viewProvider } from '@tunnelkey/messaging';
import type { Kek } from '@tunnelkey/pki';
import { pino, type Logger } from 'pino';
import type { OtaConfig } from './config.js';
import { ControlRolloutHandler } from './control-rollout/control-rollout.handler.js';
import { ControlRolloutMsController } from './control-rollout/control-rollout.ms-controller.js';
import { DescribeRolloutHandler } from './describe-rollout/describe-rollout.handler.js';
import { DescribeRolloutMsController } from './describe-rollout/describe-rollout.ms-controller.js';
import type { ImageStore } from './image-store-port/image-store.js';
import { ObjectStoreImageStore } from './jetstream/object-store-image-store.js';
import { ListFirmwareMsController } from './list-firmware/list-firmware.ms-controller.js';
import { FirmwareKeysUplinkController } from './record-firmware-keys/firmware-keys.uplink-controller.js';
import { RegisterFirmwareHandler } from './register-firmware/register-firmware.handler.js';
import { RegisterFirmwareMsController } from './register-firmware/register-firmware.ms-controller.js';
import { RegisterProductHandler } from './register-product/register-product.handler.js';
import { RegisterProductMsController } from './register-product/register-product.ms-controller.js';
import { UpdateReportUplinkController } from './report-update/update-report.uplink-controller.js';
import { RolloutContents } from './rollout-process/rollout-content.js';
import { RolloutDriverJob } from './rollout-process/rollout-driver.job.js';
import { FirmwareChunkUplinkController } from './serve-chunks/firmware-chunk.uplink-controller.js';
import { natsDownlinks } from './shared/nats-downlinks.js';
import { OtaWriter } from './shared/ota-writer.js';
import { SigningKeyring } from './signing-keys/signing-keyring.js';
import { StartRolloutHandler } from './start-rollout/start-rollout.handler.js';
import { StartRolloutMsController } from './start-rollout/start-rollout.ms-controller.js';
import {
  CLOCK,
  DOWNLINKS,
  IMAGE_STORE,
  OTA_CONFIG,
  OTA_KEK,
  OTA_LOGGER,
  OTA_STREAMS,
  PLATFORM_KEY,
  type DownlinkSender,
} from './tokens.js';
import { FirmwareCatalogView } from './views/firmware-catalog.view.js';
import { FleetView } from './views/fleet.view.js';
import { RolloutProgressView } from './views/rollout-progress.view.js';

export interface OtaModuleOptions {
  config: OtaConfig;
  platformKey: PlatformKey;
  /** The signing keys and the rollout content keys are derived under it (OTA_KEK / OTA_KEK_FILE). */
  kek: Kek;
  logger?: Logger;
  clock?: () => Date;
  /** Default: the JetStream object store `<NS>_OTA_IMAGES` on the service's connection. */
  images?: ImageStore;
  /** Device downlinks (signed envelopes, chunk frames). Default: natsDownlinks on the service's NATS connection. */
  downlinks?: DownlinkSender;
}

/** The contexts OTA reads (registry, onboarding) and writes (ota). */
export const otaStreams: readonly BoundedContext[] = ['ota', 'registry', 'onboarding'];

/** Views log under OTA's logger and start once its streams exist. */
const viewDeps = { logger: OTA_LOGGER, after: [OTA_STREAMS] };

@Module({})
export class OtaModule {
  static forRoot(options: OtaModuleOptions): DynamicModule {
    const { config, platformKey, clock } = options;
    const logger = options.logger ?? pino({ name: 'ota', level: config.logLevel });
    const downlinks = (nats: NatsConnection): DownlinkSender =>
      options.downlinks ??
      natsDownlinks(nats, { platformKey, namespace: config.namespace, ...(clock ? { clock } : {}) });
    const images = (nats: NatsConnection, replicas: number): Promise<ImageStore> | ImageStore =>
      options.images ?? ObjectStoreImageStore.open(nats, config.namespace, { replicas });
    const ensureStreams = (store: EventStore) => store.ensureStreams(otaStreams).then(() => otaStreams);
    return {
      module: OtaModule,
      controllers: [
        RegisterProductMsController,
        RegisterFirmwareMsController,
        StartRolloutMsController,
        ControlRolloutMsController,
        DescribeRolloutMsController,
        ListFirmwareMsController,
      ],
      providers: [
        { provide: OTA_CONFIG, useValue: config },
        { provide: OTA_LOGGER, useValue: logger },
        { provide: CLOCK, useValue: clock ?? (() => new Date()) },
        { provide: OTA_KEK, useValue: options.kek },
        { provide: PLATFORM_KEY, useValue: platformKey },
        { provide: DOWNLINKS, inject: [NATS_CONNECTION], useFactory: downlinks },
        { provide: IMAGE_STORE, inject: [NATS_CONNECTION, JETSTREAM_REPLICAS], useFactory: images },
        { provide: OTA_STREAMS, inject: [EVENT_STORE], useFactory: ensureStreams },
        viewProvider(FleetView, viewDeps),
        viewProvider(FirmwareCatalogView, viewDeps),
        viewProvider(RolloutProgressView, viewDeps),
        OtaWriter,
        SigningKeyring,
        RolloutContents,
        RolloutDriverJob,
        RegisterProductHandler,
        RegisterFirmwareHandler,
        StartRolloutHandler,
        ControlRolloutHandler,
        DescribeRolloutHandler,
        FirmwareKeysUplinkController,
        FirmwareChunkUplinkController,
        UpdateReportUplinkController,
      ],
      exports: [
        FleetView,
        FirmwareCatalogView,
        RolloutProgressView,
        RolloutDriverJob,
        RegisterFirmwareHandler,
        FirmwareChunkUplinkController,
        UpdateReportUplinkController,
        SigningKeyring,
      ],
    };
  }
}
