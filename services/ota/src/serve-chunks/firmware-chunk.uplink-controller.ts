/**
 * A device fetches the image it was offered (`firmware-chunk-request`), a window of chunks at a
 * time, from its last verified chunk on: each request, verified (one signature per window, not per
 * chunk), is answered with the `count` chunks it names, each an unsigned binary frame
 * (contracts' firmware-chunk-frame.ts: why no signature is needed there). Only a device offered the
 * rollout, not yet decided, is served; its first request is its answer to the offer (no more
 * resends). Reads are not facts: nothing is recorded.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { FirmwareChunkRequestMessage, type DeviceBodyOf, type DeviceEnvelope } from '@tunnelkey/contracts';
import { NATS_CONNECTION } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import type { OtaConfig } from '../config.js';
import { RolloutContents } from '../rollout-process/rollout-content.js';
import { RolloutDriverJob } from '../rollout-process/rollout-driver.job.js';
import { UplinkSubscription } from '../shared/uplink-subscription.js';
import { CLOCK, DOWNLINKS, OTA_CONFIG, OTA_LOGGER, type Clock, type DownlinkSender } from '../tokens.js';
import { FirmwareCatalogView } from '../views/firmware-catalog.view.js';
import { FleetView } from '../views/fleet.view.js';
import { RolloutProgressView } from '../views/rollout-progress.view.js';

@Injectable()
export class FirmwareChunkUplinkController implements OnApplicationBootstrap, OnModuleDestroy {
  readonly uplinks: UplinkSubscription;
  /** Encrypted bytes sent to devices, and chunks (the bench reads them). */
  bytesServed = 0;
  chunksServed = 0;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    private readonly progress: RolloutProgressView,
    private readonly catalog: FirmwareCatalogView,
    private readonly contents: RolloutContents,
    private readonly driver: RolloutDriverJob,
    fleet: FleetView,
    @Inject(DOWNLINKS) private readonly downlinks: DownlinkSender,
    @Inject(OTA_CONFIG) config: OtaConfig,
    @Inject(CLOCK) clock: Clock,
    @Inject(OTA_LOGGER) private readonly logger: Logger,
  ) {
    this.uplinks = new UplinkSubscription({
      kind: FirmwareChunkRequestMessage.kind,
      namespace: config.namespace,
      fleet,
      clock,
      logger,
      concurrency: 64,
      handle: (envelope) => this.serve(envelope),
    });
  }

  onApplicationBootstrap(): void {
    this.uplinks.start(this.nc);
  }

  onModuleDestroy(): Promise<void> {
    return this.uplinks.stop();
  }

  async serve(envelope: DeviceEnvelope): Promise<void> {
    const { deviceId } = envelope;
    const {
      rolloutId,
      firmwareId,
      index,
      count = 1,
    } = envelope.body as DeviceBodyOf<typeof FirmwareChunkRequestMessage>;
    let progress = this.progress.get(rolloutId);
    if (!progress?.devices.has(deviceId)) {
      await this.progress.catchUp(); // offered a moment ago
      progress = this.progress.get(rolloutId);
    }
    const device = progress?.devices.get(deviceId);
    const started = progress?.rollout.started;
    const released = this.catalog.released(firmwareId);
    if (!started || started.firmwareId !== firmwareId || device?.status !== 'offered' || !released) {
      this.logger.warn({ event: 'ota.chunk_refused', deviceId, rolloutId, index }, 'chunk asked outside an open offer');
      return;
    }
    this.driver.answered(rolloutId, deviceId);
    const spec = {
      rolloutId,
      imageDigest: started.imageDigest,
      sizeBytes: released.image.sizeBytes,
      chunkSize: started.chunkSize,
    };
    const { header } = await this.contents.get(spec);
    if (index >= header.chunkCount) {
      this.logger.warn({ event: 'ota.chunk_refused', deviceId, rolloutId, index }, 'chunk index out of range');
      return;
    }
    for (let i = index; i < Math.min(index + count, header.chunkCount); i++) {
      const frame = await this.contents.frame(spec, i);
      this.bytesServed += frame.length;
      this.chunksServed++;
      await this.downlinks.sendChunkFrame(deviceId, frame);
    }
  }
}
