import { jetStreamForSetup, type BucketPlacement } from '@tunnelkey/eventstore-jetstream';
/**
 * `POST /api/firmware/uploads`: a firmware image streamed (application/octet-stream) into the
 * JetStream object store `<NS>_OTA_IMAGES` in chunks, never buffered whole and never in an event.
 * The body is read once the guard checked the token (operator); past the limit (64 MiB by default,
 * as OTA_MAX_IMAGE_BYTES) the upload stops with 413 and the partial object is removed. Declared
 * `?sha256=` and `?size=` are checked as the bytes arrive (422 on a mismatch, object removed).
 * Answers the object's name, size and SHA-256; `RegisterFirmware` (POST /api/firmware) then
 * registers it under a product and version, and the OTA service checks it all again.
 */
import { createHash, randomUUID } from 'node:crypto';
import { Controller, HttpCode, Inject, Post, Req, UseGuards } from '@nestjs/common';
import { Objm, type ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { firmwareImageBucket } from '@tunnelkey/contracts';
import { AuthGuard, RequiresRole } from '../auth/auth.guard.js';
import { BadRequest, TooLarge } from '../errors.js';
import type { GatewayRequest } from '../observability/request-context.js';

export const FIRMWARE_UPLOADS = Symbol('FIRMWARE_UPLOADS');
export const firmwareUploadPath = '/api/firmware/uploads';

export interface UploadedImage {
  objectName: string;
  sizeBytes: number;
  sha256: string;
}

/**
 * Where uploads go: the object store (the gateway's connection), opened at the first upload (a
 * gateway whose NATS user may not write it still starts), with the size limit.
 */
export class FirmwareUploads {
  #store: Promise<ObjectStore> | undefined;

  constructor(
    private readonly nats: NatsConnection,
    private readonly namespace: string,
    readonly limit: number,
    private readonly placement: BucketPlacement = {},
  ) {}

  #open(): Promise<ObjectStore> {
    this.#store ??= new Objm(jetStreamForSetup(this.nats)).create(firmwareImageBucket(this.namespace), {
      storage: 'file',
      replicas: this.placement.replicas ?? 1,
    });
    this.#store.catch(() => (this.#store = undefined));
    return this.#store;
  }

  /** Streams `body` into a new object; refuses (and removes it) past the limit or on a declared mismatch. */
  async upload(body: AsyncIterable<Uint8Array>, declared: { sha256?: string; size?: number }): Promise<UploadedImage> {
    const objectName = `upload-${randomUUID()}`;
    const hash = createHash('sha256');
    const maximum = this.limit;
    const limit = Math.min(maximum, declared.size ?? maximum);
    let size = 0;
    let refusal: Error | undefined;
    const iterator = body[Symbol.asyncIterator]();
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const next = await iterator.next();
        if (next.done) return controller.close();
        size += next.value.length;
        if (size > limit) {
          refusal =
            declared.size !== undefined && size > declared.size && declared.size < maximum
              ? new BadRequest(`the image is larger than the declared ${declared.size} bytes`)
              : new TooLarge(`the image is too large (at most ${limit} bytes)`);
          return controller.error(refusal);
        }
        hash.update(next.value);
        controller.enqueue(next.value);
      },
    });
    const store = await this.#open();
    try {
      await store.put({ name: objectName, options: { max_chunk_size: 128 * 1024 } }, stream);
    } catch (error) {
      await store.delete(objectName).catch(() => undefined);
      throw refusal ?? error;
    }
    const sha256 = hash.digest('hex');
    const mismatch =
      (declared.size !== undefined && size !== declared.size) ||
      (declared.sha256 !== undefined && sha256 !== declared.sha256);
    if (mismatch) {
      await store.delete(objectName).catch(() => undefined);
      throw new BadRequest('the uploaded image does not have the declared size and SHA-256');
    }
    return { objectName, sizeBytes: size, sha256 };
  }
}

@Controller()
@UseGuards(AuthGuard)
export class FirmwareUploadController {
  constructor(@Inject(FIRMWARE_UPLOADS) private readonly uploads: FirmwareUploads) {}

  @Post(firmwareUploadPath)
  @RequiresRole('operator')
  @HttpCode(201)
  async upload(@Req() request: GatewayRequest): Promise<UploadedImage> {
    const incoming = request.raw;
    const type = String(incoming.headers['content-type'] ?? '');
    if (!/^application\/octet-stream\s*(?:;|$)/i.test(type))
      throw new BadRequest('send the image as application/octet-stream');
    const length = Number(incoming.headers['content-length'] ?? NaN);
    if (length > this.uploads.limit) throw new TooLarge(`the image is too large (at most ${this.uploads.limit} bytes)`);
    const query = request.query as Record<string, unknown>;
    const sha256 = typeof query['sha256'] === 'string' ? query['sha256'].toLowerCase() : undefined;
    if (sha256 !== undefined && !/^[0-9a-f]{64}$/.test(sha256))
      throw new BadRequest('sha256 must be 64 hex characters');
    const sizeText = typeof query['size'] === 'string' ? query['size'] : undefined;
    if (sizeText !== undefined && !/^\d{1,10}$/.test(sizeText)) throw new BadRequest('size must be a byte count');
    const size = sizeText !== undefined ? Number(sizeText) : undefined;
    if (size !== undefined && size > this.uploads.limit)
      throw new TooLarge(`the image is too large (at most ${this.uploads.limit} bytes)`);
    return this.uploads.upload(incoming, {
      ...(sha256 !== undefined ? { sha256 } : {}),
      ...(size !== undefined ? { size } : {}),
    });
  }
}
