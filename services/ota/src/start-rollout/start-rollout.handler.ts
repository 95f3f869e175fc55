/**
 * StartRollout: a released image to the devices of some batches, in cumulative waves. Refused,
 * writing nothing: an unknown image, an unknown batch, waves that are not cumulative, no eligible
 * device. Devices that lack firmware keys are asked for them (firmware-keys-request) and waited
 * for a moment (OTA_KEYS_WAIT_MS). The devices that cannot be offered it are excluded, each with its
 * reason (DeviceUpdateSkipped: revoked, not certified, offline, no firmware keys), never silently.
 * The image is encrypted once for the rollout (its own content key) and stored, then the rollout is
 * recorded; the rollout process offers the waves. A retried command finishes what a first attempt
 * cut short (every write is idempotent) and answers the same.
 */
import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { FirmwareKeysRequestMessage, type CommandOf, type ResultOf, type StartRollout } from '@tunnelkey/contracts';
import { mapBounded } from '@tunnelkey/concurrency';
import { derivedMetadata, metadataOf } from '@tunnelkey/eventstore';
import type { Logger } from 'pino';
import type { OtaConfig } from '../config.js';
import { checkWaves, rolloutDecider, type RolloutStartedData } from '../deciders/rollout.decider.js';
import { OtaCommandRejected } from '../errors.js';
import type { ImageStore } from '../image-store-port/image-store.js';
import { RolloutContents } from '../rollout-process/rollout-content.js';
import { RolloutDriverJob } from '../rollout-process/rollout-driver.job.js';
import { OtaWriter } from '../shared/ota-writer.js';
import { CLOCK, DOWNLINKS, IMAGE_STORE, OTA_CONFIG, OTA_LOGGER, type Clock, type DownlinkSender } from '../tokens.js';
import { FirmwareCatalogView } from '../views/firmware-catalog.view.js';
import { FleetView, ineligibility, type FleetDevice } from '../views/fleet.view.js';

const keysPollMs = 100;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

@Injectable()
export class StartRolloutHandler {
  constructor(
    private readonly writer: OtaWriter,
    private readonly catalog: FirmwareCatalogView,
    private readonly fleet: FleetView,
    private readonly contents: RolloutContents,
    private readonly driver: RolloutDriverJob,
    @Inject(IMAGE_STORE) private readonly images: ImageStore,
    @Inject(DOWNLINKS) private readonly downlinks: DownlinkSender,
    @Inject(OTA_CONFIG) private readonly config: OtaConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(OTA_LOGGER) private readonly logger: Logger,
  ) {}

  async handle(command: CommandOf<typeof StartRollout>): Promise<ResultOf<typeof StartRollout>> {
    const { rolloutId, firmwareId, batchIds, waves, maxFailurePercent } = command;
    await Promise.all([this.catalog.catchUp(), this.fleet.catchUp()]);
    const released = this.catalog.released(firmwareId);
    if (!released) throw new OtaCommandRejected('unknown-firmware', `no released image ${firmwareId}`, { firmwareId });
    const unknownBatch = batchIds.find((batchId) => !this.fleet.hasBatch(batchId));
    if (unknownBatch)
      throw new OtaCommandRejected('unknown-batch', `no batch ${unknownBatch} with devices`, { batchId: unknownBatch });
    checkWaves(waves);
    const existing = await this.writer.rollout(rolloutId);
    // A retried command finds its rollout; another command under the same id is refused.
    if (existing.status !== 'None' && existing.started.firmwareId !== firmwareId)
      throw new OtaCommandRejected('rollout-exists', `rollout ${rolloutId} exists for another image`, { rolloutId });
    const devices =
      existing.status === 'None'
        ? await this.#withKeys(this.fleet.devicesOf(batchIds))
        : this.fleet.devicesOf(batchIds);
    const excluded = devices.flatMap((device) => {
      const reason = ineligibility(device);
      return reason ? [{ deviceId: device.deviceId, reason }] : [];
    });
    const { image } = released;
    const data: RolloutStartedData =
      existing.status !== 'None'
        ? existing.started
        : {
            rolloutId,
            firmwareId,
            product: image.product,
            version: image.version,
            imageDigest: image.imageDigest,
            batchIds,
            waves,
            maxFailurePercent,
            deadlineSeconds: command.deadlineSeconds ?? this.config.deadlineSeconds,
            chunkSize: this.config.chunkBytes,
            deviceCount: devices.length - excluded.length,
            excluded: excluded.length,
          };
    const metadata = metadataOf(command, this.clock());
    if (existing.status === 'None') {
      // Refusals (no eligible device) before the image is encrypted and stored.
      rolloutDecider.decide({ type: 'StartRollout', data, metadata }, existing);
      const stored = await this.images.get(image.objectName, this.config.maxImageBytes);
      if (!stored || stored.tooLarge)
        throw new OtaCommandRejected('image-not-found', `the image of ${firmwareId} is not in the store`, {
          firmwareId,
        });
      await this.contents.prepare(
        { rolloutId, imageDigest: image.imageDigest, sizeBytes: image.sizeBytes, chunkSize: data.chunkSize },
        stored.bytes,
      );
      await this.writer.recordRollout(rolloutId, { type: 'StartRollout', data, metadata });
    }
    // Excluded at the start (recorded after the rollout, so the progress view counts them).
    if (existing.status === 'None')
      await mapBounded(excluded, 64, ({ deviceId, reason }) =>
        this.writer.recordDevice(deviceId, {
          type: 'SkipDevice',
          data: { deviceId, rolloutId, firmwareId, reason },
          metadata: derivedMetadata(metadata, deviceId, 'excluded'),
        }),
      );
    this.logger.info(
      { event: 'ota.rollout_started', rolloutId, firmwareId, devices: data.deviceCount, excluded: data.excluded },
      'rollout started',
    );
    void this.driver.drive().catch(() => undefined);
    return { rolloutId, deviceCount: data.deviceCount, excluded: data.excluded };
  }

  /** Asks the devices that lack firmware keys (and could otherwise be offered) for them, and waits a moment. */
  async #withKeys(devices: FleetDevice[]): Promise<FleetDevice[]> {
    const lacking = () =>
      devices.filter((d) => ineligibility(this.fleet.device(d.deviceId) ?? d) === 'no-firmware-keys');
    const missing = lacking();
    if (missing.length === 0 || this.config.keysWaitMs === 0) return devices;
    await mapBounded(missing, 64, (device) =>
      this.downlinks
        .send(FirmwareKeysRequestMessage, device.deviceId, { requestId: randomUUID() })
        .catch(() => undefined),
    );
    const until = Date.now() + this.config.keysWaitMs;
    while (Date.now() < until) {
      await sleep(keysPollMs);
      await this.fleet.catchUp();
      if (lacking().length === 0) break;
    }
    this.logger.info(
      { event: 'ota.firmware_keys_asked', asked: missing.length, stillMissing: lacking().length },
      'devices asked for their firmware keys',
    );
    return devices.map((d) => this.fleet.device(d.deviceId) ?? d);
  }
}
