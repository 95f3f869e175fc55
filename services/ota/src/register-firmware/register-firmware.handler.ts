/**
 * RegisterFirmware: an image uploaded to the object store becomes a release. Checked in this order,
 * each refusal typed and writing nothing: the declared size within OTA_MAX_IMAGE_BYTES; a known
 * product and a version above its current release (decided first, before the image is read); the
 * object present and within the limit; its size and SHA-256 equal to the declared ones. Then the
 * targets metadata is signed with both keys and the image and its release recorded together.
 */
import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { CommandOf, RegisterFirmware, ResultOf } from '@tunnelkey/contracts';
import { metadataOf } from '@tunnelkey/eventstore';
import type { Logger } from 'pino';
import type { OtaConfig } from '../config.js';
import { firmwareLineDecider, type ImageData, type ReleaseData } from '../deciders/firmware-line.decider.js';
import { OtaCommandRejected } from '../errors.js';
import type { ImageStore } from '../image-store-port/image-store.js';
import { OtaWriter } from '../shared/ota-writer.js';
import { SigningKeyring } from '../signing-keys/signing-keyring.js';
import { CLOCK, IMAGE_STORE, OTA_CONFIG, OTA_LOGGER, type Clock } from '../tokens.js';
import { FirmwareCatalogView } from '../views/firmware-catalog.view.js';

@Injectable()
export class RegisterFirmwareHandler {
  /** Milliseconds the last release's two signatures took (the bench prints it). */
  lastSigningMs = 0;

  constructor(
    private readonly writer: OtaWriter,
    private readonly keyring: SigningKeyring,
    private readonly catalog: FirmwareCatalogView,
    @Inject(IMAGE_STORE) private readonly images: ImageStore,
    @Inject(OTA_CONFIG) private readonly config: OtaConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(OTA_LOGGER) private readonly logger: Logger,
  ) {}

  async handle(command: CommandOf<typeof RegisterFirmware>): Promise<ResultOf<typeof RegisterFirmware>> {
    const { firmwareId, product, version, imageDigest, sizeBytes, objectName, releaseNotes } = command;
    const limit = this.config.maxImageBytes;
    if (sizeBytes > limit)
      throw new OtaCommandRejected('image-too-large', `the image is ${sizeBytes} bytes; the limit is ${limit}`, {
        firmwareId,
        limit,
      });
    const image: ImageData = {
      firmwareId,
      product,
      version,
      imageDigest,
      sizeBytes,
      objectName,
      ...(releaseNotes ? { releaseNotes } : {}),
    };
    const now = this.clock();
    const metadata = metadataOf(command, now);
    const line = await this.writer.firmwareLine(product);
    const metadataVersion = line.status === 'Registered' ? line.metadataVersion + 1 : 1;
    const expiresAt = new Date(now.getTime() + this.config.metadataLifetimeDays * 86_400_000);
    const draft: ReleaseData = {
      firmwareId,
      product,
      version,
      metadataVersion,
      expiresAt: expiresAt.toISOString(),
      signingKeyId: this.keyring.keyId,
      algorithms: ['ecdsa-p256-sha256', 'ml-dsa-65'],
      metadataDigest: '0'.repeat(64),
      targets: '{}',
    };
    // Unknown product, version not above the current release, another image under the id: refused
    // before the image is read. The same image again is answered with its recorded release.
    const decided = firmwareLineDecider.decide(
      { type: 'ReleaseFirmware', data: { image, release: draft }, metadata },
      line,
    );
    if (decided.length === 0 && line.status === 'Registered') {
      const recorded = line.images[firmwareId]!.release!;
      return {
        firmwareId,
        metadataVersion: recorded.metadataVersion,
        metadataDigest: recorded.metadataDigest,
        signingKeyId: recorded.signingKeyId,
      };
    }
    await this.#checkUpload(image, limit);
    const signed = await this.keyring.signRelease({
      firmwareId,
      product,
      version,
      imageSha256: imageDigest,
      length: sizeBytes,
      metadataVersion,
      expires: expiresAt,
    });
    this.lastSigningMs = signed.signingMs;
    const release: ReleaseData = {
      ...draft,
      expiresAt: signed.metadata.signed.expires,
      metadataDigest: createHash('sha256').update(signed.json).digest('hex'),
      targets: signed.json,
    };
    await this.writer.recordFirmwareLine(product, { type: 'ReleaseFirmware', data: { image, release }, metadata });
    await this.catalog.catchUp();
    this.logger.info(
      { event: 'ota.firmware_released', firmwareId, product, version, metadataVersion, signingMs: signed.signingMs },
      'firmware released',
    );
    return { firmwareId, metadataVersion, metadataDigest: release.metadataDigest, signingKeyId: release.signingKeyId };
  }

  /** The uploaded object: present, within the limit, of the declared size and digest. */
  async #checkUpload(image: ImageData, limit: number): Promise<void> {
    const { firmwareId, objectName, sizeBytes, imageDigest } = image;
    const stored = await this.images.get(objectName, limit);
    if (!stored)
      throw new OtaCommandRejected('image-not-found', `no uploaded image named ${objectName}`, {
        firmwareId,
        objectName,
      });
    if (stored.tooLarge)
      throw new OtaCommandRejected(
        'image-too-large',
        `the uploaded image is ${stored.size} bytes; the limit is ${limit}`,
        {
          firmwareId,
          limit,
        },
      );
    if (stored.bytes.length !== sizeBytes)
      throw new OtaCommandRejected(
        'size-mismatch',
        `the uploaded image is ${stored.bytes.length} bytes, not the ${sizeBytes} declared`,
        { firmwareId },
      );
    const digest = createHash('sha256').update(stored.bytes).digest('hex');
    if (digest !== imageDigest)
      throw new OtaCommandRejected('digest-mismatch', 'the uploaded image does not have the declared SHA-256', {
        firmwareId,
      });
  }
}
