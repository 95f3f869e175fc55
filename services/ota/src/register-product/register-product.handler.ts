/**
 * RegisterFirmwareProduct: a product (hardware id) the OTA service takes images for, and the
 * version its devices ship with (the first release must be above it). "Known product" means
 * registered here: an image for any other product is refused.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { CommandOf, RegisterFirmwareProduct, ResultOf } from '@tunnelkey/contracts';
import { metadataOf } from '@tunnelkey/eventstore';
import { OtaWriter } from '../shared/ota-writer.js';
import { CLOCK, type Clock } from '../tokens.js';
import { FirmwareCatalogView } from '../views/firmware-catalog.view.js';

@Injectable()
export class RegisterProductHandler {
  constructor(
    private readonly writer: OtaWriter,
    private readonly catalog: FirmwareCatalogView,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async handle(command: CommandOf<typeof RegisterFirmwareProduct>): Promise<ResultOf<typeof RegisterFirmwareProduct>> {
    const { product, name, baselineVersion } = command;
    await this.writer.recordFirmwareLine(product, {
      type: 'RegisterFirmwareProduct',
      data: { product, name, baselineVersion },
      metadata: metadataOf(command, this.clock()),
    });
    await this.catalog.catchUp();
    return { product };
  }
}
