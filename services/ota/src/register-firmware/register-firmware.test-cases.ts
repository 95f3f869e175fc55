/** RegisterFirmware's slice cases: a registered product, an uploaded image, the command with overrides. */
import { randomBytes } from 'node:crypto';
import type { CommandOf, RegisterFirmware } from '@tunnelkey/contracts';
import { RegisterProductHandler } from '../register-product/register-product.handler.js';
import { sha256, startOtaSlice, type OtaSlice } from '../test-support/ota-slice.test-helper.js';
import { RegisterFirmwareHandler } from './register-firmware.handler.js';

export class RegisterFirmwareProductHandlerCase {
  slice!: OtaSlice;
  readonly image = new Uint8Array(randomBytes(100 * 1024));

  async start(): Promise<void> {
    this.slice = await startOtaSlice();
    await this.slice.get(RegisterProductHandler).handle({
      commandId: 'product-1',
      product: 'fridge-x200',
      name: 'Fridge X200',
      baselineVersion: '1.0.0',
    });
    await this.slice.images.put('upload-1', this.image);
  }

  release(version: string, overrides: Partial<CommandOf<typeof RegisterFirmware>> = {}) {
    const firmwareId = `fw-${version.replace(/\./g, '-')}`;
    return this.slice.get(RegisterFirmwareHandler).handle({
      commandId: `register-${firmwareId}`,
      firmwareId,
      product: 'fridge-x200',
      version,
      imageDigest: sha256(this.image),
      sizeBytes: this.image.length,
      objectName: 'upload-1',
      ...overrides,
    });
  }

  close(): Promise<void> {
    return this.slice.close();
  }
}
