/** ListFirmware on `cmd.ota.list-firmware`: the released images, newest first, from the catalog view. */
import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { ListFirmware, type ResultOf } from '@tunnelkey/contracts';
import { FirmwareCatalogView } from '../views/firmware-catalog.view.js';

@Controller()
export class ListFirmwareMsController {
  constructor(private readonly catalog: FirmwareCatalogView) {}

  @MessagePattern(ListFirmware.subject())
  async list(@Payload() payload: unknown): Promise<ResultOf<typeof ListFirmware>> {
    const { product } = ListFirmware.parse(payload);
    await this.catalog.catchUp();
    const images = this.catalog
      .list(product)
      .slice(0, 1000)
      .map(({ image, release, registeredAt }) => ({
        firmwareId: image.firmwareId,
        product: image.product,
        version: image.version,
        imageDigest: image.imageDigest,
        sizeBytes: image.sizeBytes,
        metadataVersion: release.metadataVersion,
        signingKeyId: release.signingKeyId,
        expiresAt: release.expiresAt,
        registeredAt,
      }));
    return { images };
  }
}
