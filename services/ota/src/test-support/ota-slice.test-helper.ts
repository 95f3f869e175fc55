/**
 * Slice tests' fixture: the real OtaModule on an InMemoryEventStore, with an in-memory image store,
 * a recorder of downlinks, the registry and onboarding played by appending their events, and
 * simulated devices (real enrolment, ECDH and ML-KEM keys) that answer offers through the
 * service's own uplink controllers, each message signed as a device signs it.
 */
import 'reflect-metadata';
import { createHash, webcrypto } from 'node:crypto';
import { Module, type INestApplicationContext, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NatsConnection } from '@nats-io/transport-node';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import {
  DeviceCertified,
  DeviceIdentityImported,
  DeviceRevoked,
  FirmwareChunkRequestMessage,
  FirmwareKeysMessage,
  OwnershipTransferCompleted,
  decodeFirmwareChunkFrame,
  UpdateReportMessage,
  type DeviceBodyOf,
  type DeviceMessageDefinition,
  type EventEnvelope,
} from '@tunnelkey/contracts';
import { EnvelopeSigner, generatePlatformKey, signBytes, type PlatformKey } from '@tunnelkey/device-protocol';
import { InMemoryEventStore } from '@tunnelkey/eventstore';
import {
  decryptChunk,
  encryptionHeader,
  encryptionKeysAttestationBytes,
  unwrapContentKey,
  type DeviceDecryptionKeys,
} from '@tunnelkey/firmware';
import { PlatformModule } from '@tunnelkey/messaging';
import { Kek } from '@tunnelkey/pki';
import { givenEvent } from '@tunnelkey/testing';
import { pino } from 'pino';
import { otaConfigFromEnv, type OtaConfig } from '../config.js';
import { InMemoryImageStore } from '../image-store-port/image-store.js';
import { OtaModule } from '../ota.module.js';
import { RegisterFirmwareHandler } from '../register-firmware/register-firmware.handler.js';
import { RegisterProductHandler } from '../register-product/register-product.handler.js';
import { FirmwareKeysUplinkController } from '../record-firmware-keys/firmware-keys.uplink-controller.js';
import { UpdateReportUplinkController } from '../report-update/update-report.uplink-controller.js';
import { RolloutDriverJob } from '../rollout-process/rollout-driver.job.js';
import { FirmwareChunkUplinkController } from '../serve-chunks/firmware-chunk.uplink-controller.js';
import type { DownlinkSender } from '../tokens.js';

const { subtle } = webcrypto;
export const sliceKek = Kek.fromBytes(createHash('sha256').update('ota slice kek').digest());
export const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

async function ecdhKeys(): Promise<{ privateKey: webcrypto.CryptoKey; publicKeySpki: Uint8Array }> {
  const pair = (await subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, [
    'deriveBits',
  ])) as webcrypto.CryptoKeyPair;
  return { privateKey: pair.privateKey, publicKeySpki: new Uint8Array(await subtle.exportKey('spki', pair.publicKey)) };
}

/** A subscription that delivers nothing (slices call the controllers directly). */
const idleNats = {
  subscribe: () => ({ [Symbol.asyncIterator]: async function* () {}, drain: () => Promise.resolve() }),
  publish: () => undefined,
  status: () => ({ [Symbol.asyncIterator]: async function* () {}, stop: () => undefined }),
  isClosed: () => false,
} as unknown as NatsConnection;

export interface SentDownlink {
  kind: string;
  deviceId: string;
  body: Record<string, unknown>;
}

export type DeviceFault = 'none' | 'boot-fails' | 'silent' | 'wrong-image';

/** A device of the slice: its keys live here; it answers offers as the firmware would. */
export class SliceDevice {
  readonly signer: EnvelopeSigner;
  measurement: string;
  fault: DeviceFault = 'none';
  /** The owner epoch its firmware keys are of (newOwnerEpoch moves it, with new keys). */
  ownerEpoch = 0;
  /** Decrypted images, by rollout. */
  readonly installed = new Map<string, Uint8Array>();

  private constructor(
    readonly deviceId: string,
    readonly enrolment: webcrypto.CryptoKeyPair,
    readonly enrolmentSpki: string,
    public ecdh: { privateKey: webcrypto.CryptoKey; publicKeySpki: Uint8Array },
    public mlKem: { publicKey: Uint8Array; secretKey: Uint8Array },
    readonly slice: () => OtaSlice,
    oldImage: Uint8Array,
  ) {
    this.signer = new EnvelopeSigner(deviceId, 0, () => slice().now());
    this.measurement = sha256(oldImage);
  }

  static async create(deviceId: string, slice: () => OtaSlice, oldImage: Uint8Array): Promise<SliceDevice> {
    const enrolment = (await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ])) as webcrypto.CryptoKeyPair;
    const enrolmentSpki = Buffer.from(await subtle.exportKey('spki', enrolment.publicKey)).toString('base64');
    return new SliceDevice(deviceId, enrolment, enrolmentSpki, await ecdhKeys(), ml_kem768.keygen(), slice, oldImage);
  }

  /** The device moved to owner epoch `epoch` (a transfer): firmware keys unrelated to the earlier ones. */
  async newOwnerEpoch(epoch: number): Promise<void> {
    this.ownerEpoch = epoch;
    this.ecdh = await ecdhKeys();
    this.mlKem = ml_kem768.keygen();
  }

  get decryptionKeys(): DeviceDecryptionKeys {
    const { secretKey, publicKey } = this.mlKem;
    return {
      ecdh: this.ecdh,
      mlKem: { publicKey, decapsulate: (cipherText) => ml_kem768.decapsulate(cipherText, secretKey) },
    };
  }

  /** A signed uplink, as the bytes on the bus. */
  async uplink<M extends DeviceMessageDefinition>(definition: M, body: DeviceBodyOf<M>) {
    const envelope = await this.signer.sign(definition, body, {
      keyId: 'enrolment',
      privateKey: this.enrolment.privateKey,
    });
    return { subject: definition.subject(this.deviceId), data: new TextEncoder().encode(JSON.stringify(envelope)) };
  }

  /**
   * Its `firmware-keys` message: its keys, of its epoch unless `ownerEpoch` claims another (attested
   * for that claim); epoch 0 without the field, as devices sent it before owner epochs.
   */
  async firmwareKeys(ownerEpoch = this.ownerEpoch) {
    const statement = {
      deviceId: this.deviceId,
      ecdhPublicKey: Buffer.from(this.ecdh.publicKeySpki).toString('base64'),
      mlKemPublicKey: Buffer.from(this.mlKem.publicKey).toString('base64'),
      ownerEpoch,
    };
    const attestation = await signBytes(encryptionKeysAttestationBytes(statement), this.enrolment.privateKey);
    const { ecdhPublicKey, mlKemPublicKey } = statement;
    return this.uplink(FirmwareKeysMessage, {
      ...(ownerEpoch === 0 ? {} : { ownerEpoch }),
      ecdhPublicKey,
      mlKemPublicKey,
      attestation,
    });
  }

  async reportKeys(ownerEpoch = this.ownerEpoch): Promise<string> {
    const { subject, data } = await this.firmwareKeys(ownerEpoch);
    return this.slice().get(FirmwareKeysUplinkController).uplinks.receive(subject, data);
  }

  /** Answers the newest offer it was sent: fetch every chunk, decrypt, check, boot, report. */
  async answerOffer(): Promise<void> {
    const slice = this.slice();
    const offer = slice.downlinks.filter((d) => d.deviceId === this.deviceId && d.kind === 'update-offer').at(-1);
    if (!offer || this.fault === 'silent') return;
    const body = offer.body as {
      rolloutId: string;
      firmwareId: string;
      keyWrap: string;
      chunkSize: number;
      chunkCount: number;
      sizeBytes: number;
      version: string;
      targets: string;
    };
    const digest = (JSON.parse(body.targets) as { signed: { targets: Record<string, { hashes: { sha256: string } }> } })
      .signed.targets;
    const imageSha256 = Object.values(digest)[0]!.hashes.sha256;
    const contentKey = unwrapContentKey(new Uint8Array(Buffer.from(body.keyWrap, 'base64')), this.decryptionKeys, {
      deviceId: this.deviceId,
      rolloutId: body.rolloutId,
    });
    const header = encryptionHeader(imageSha256, body.sizeBytes, body.chunkSize);
    const image = new Uint8Array(body.sizeBytes);
    const chunks = slice.get(FirmwareChunkUplinkController);
    // Asks a window of chunks at a time (the last window runs past the end: the service stops there).
    const window = 4;
    for (let first = 0; first < body.chunkCount; first += window) {
      const { subject, data } = await this.uplink(FirmwareChunkRequestMessage, {
        rolloutId: body.rolloutId,
        firmwareId: body.firmwareId,
        index: first,
        count: window,
      });
      await chunks.uplinks.receive(subject, data);
      for (let index = first; index < Math.min(first + window, body.chunkCount); index++) {
        const sent = slice.downlinks.filter(
          (d) => d.deviceId === this.deviceId && d.kind === 'firmware-chunk' && d.body['index'] === index,
        );
        const sealed = sent.at(-1)!.body['sealed'] as Uint8Array;
        image.set(decryptChunk(contentKey, header, index, sealed), index * body.chunkSize);
      }
    }
    this.installed.set(body.rolloutId, image);
    const booted = this.fault === 'none' || this.fault === 'wrong-image';
    const measurement = this.fault === 'wrong-image' ? sha256('another image') : sha256(image);
    if (booted) this.measurement = measurement;
    await this.report({
      rolloutId: body.rolloutId,
      firmwareId: body.firmwareId,
      status: booted ? 'booted' : 'failed',
      firmwareVersion: body.version,
      firmwareMeasurement: this.measurement,
      ...(booted ? {} : { reason: 'boot-failed' as const }),
    });
  }

  async report(body: DeviceBodyOf<typeof UpdateReportMessage>): Promise<string> {
    const { subject, data } = await this.uplink(UpdateReportMessage, body);
    return this.slice().get(UpdateReportUplinkController).uplinks.receive(subject, data);
  }
}

export interface OtaSlice {
  app: INestApplicationContext;
  store: InMemoryEventStore;
  images: InMemoryImageStore;
  downlinks: SentDownlink[];
  platformKey: PlatformKey;
  now(): Date;
  advance(ms: number): void;
  get<T>(type: Type<T>): T;
  /** OTA's events, in log order, optionally of one type. */
  events(type?: string): Promise<EventEnvelope[]>;
  /** Drives the rollouts until nothing changes (the driver's tick, by hand). */
  drive(): Promise<void>;
  close(): Promise<void>;
}

export interface SliceOptions {
  config?: Partial<OtaConfig>;
  /** A store (and images) with history: a restart. */
  store?: InMemoryEventStore;
  images?: InMemoryImageStore;
  platformKey?: PlatformKey;
  startAt?: number;
}

export async function startOtaSlice(options: SliceOptions = {}): Promise<OtaSlice> {
  const store =
    options.store ?? new InMemoryEventStore({ retryBackoffMs: [10, 50], logger: pino({ level: 'silent' }) });
  const images = options.images ?? new InMemoryImageStore();
  const downlinks: SentDownlink[] = [];
  let nowMs = options.startAt ?? Date.parse('2026-12-01T10:00:00.000Z');
  const clock = () => new Date(nowMs);
  const downlinkSender: DownlinkSender = {
    send(definition, deviceId, body) {
      downlinks.push({ kind: definition.kind, deviceId, body: body as Record<string, unknown> });
      return Promise.resolve();
    },
    sendChunkFrame(deviceId, frame) {
      downlinks.push({ kind: 'firmware-chunk', deviceId, body: { ...decodeFirmwareChunkFrame(frame) } });
      return Promise.resolve();
    },
  };
  const platformKey = options.platformKey ?? (await generatePlatformKey()).key;
  // Small chunks: a test image spans several request windows.
  const config: OtaConfig = {
    ...otaConfigFromEnv({}),
    tickMs: 3_600_000,
    keysWaitMs: 0,
    chunkBytes: 8 * 1024,
    ...options.config,
  };
  @Module({
    imports: [
      PlatformModule.forRoot({ service: 'ota', nats: idleNats, eventStore: store }),
      OtaModule.forRoot({
        config,
        platformKey,
        kek: await sliceKek,
        logger: pino({ level: 'silent' }),
        clock,
        images,
        downlinks: downlinkSender,
      }),
    ],
  })
  class SliceRoot {}
  const app = await NestFactory.createApplicationContext(SliceRoot, { logger: false });
  await app.init();
  const events = async (type?: string) => {
    const all: EventEnvelope[] = [];
    await store.replay('ota', (recorded) => void all.push(recorded.event));
    return type ? all.filter((e) => e.type === type) : all;
  };
  const driver = app.get(RolloutDriverJob);
  return {
    app,
    store,
    images,
    downlinks,
    platformKey,
    now: clock,
    advance: (ms) => void (nowMs += ms),
    get: (type) => app.get(type),
    events,
    async drive() {
      let before = -1;
      for (let round = 0; round < 20; round++) {
        await driver.drive();
        await driver.idle();
        const count = (await events()).length;
        if (count === before) return;
        before = count;
      }
    },
    close: () => app.close(),
  };
}

/** A release to roll out: product fridge-x200 registered, `image` uploaded, firmware `fw-2` (2.0.0) registered for it. */
export async function givenRelease(slice: OtaSlice, image: Uint8Array): Promise<void> {
  await slice.get(RegisterProductHandler).handle({
    commandId: 'product-1',
    product: 'fridge-x200',
    name: 'Fridge X200',
    baselineVersion: '1.0.0',
  });
  await slice.images.put('upload-1', image);
  await slice.get(RegisterFirmwareHandler).handle({
    commandId: 'register-1',
    firmwareId: 'fw-2',
    product: 'fridge-x200',
    version: '2.0.0',
    imageDigest: sha256(image),
    sizeBytes: image.length,
    objectName: 'upload-1',
  });
}

/** The registry (and onboarding) by their events: devices imported into a batch, certified, revoked, offline. */
export async function givenFleet(
  slice: OtaSlice,
  devices: readonly SliceDevice[],
  options: { batchId?: string; notCertified?: string[]; revoked?: string[] } = {},
): Promise<void> {
  const batchId = options.batchId ?? 'b-1';
  for (const device of devices) {
    const { deviceId, enrolmentSpki } = device;
    await givenEvent(slice.store, DeviceIdentityImported, deviceId, {
      deviceId,
      batchId,
      importId: 'import-1',
      source: 'json',
      enrolmentPublicKey: enrolmentSpki,
      enrolmentKeyDigest: sha256(Buffer.from(enrolmentSpki, 'base64')),
    });
    if (!options.notCertified?.includes(deviceId))
      await givenEvent(slice.store, DeviceCertified, deviceId, {
        deviceId,
        authorityId: 'issuing-1',
        serialNumber: '0a1b2c',
        fingerprintSha256: 'ab'.repeat(32),
        notAfter: '2027-12-01T00:00:00.000Z',
      });
    if (options.revoked?.includes(deviceId))
      await givenEvent(slice.store, DeviceRevoked, deviceId, {
        deviceId,
        revocationId: 'rev-1',
        reason: 'keyCompromise',
        revokedAt: '2026-12-01T09:00:00.000Z',
      });
  }
}

/** The registry by its event: the device moved to owner `ownerId`'s batch under owner epoch `ownerEpoch`. */
export async function givenTransfer(
  slice: OtaSlice,
  device: SliceDevice,
  transfer: { ownerEpoch: number; batchId: string; ownerId?: string },
): Promise<void> {
  await givenEvent(slice.store, OwnershipTransferCompleted, device.deviceId, {
    deviceId: device.deviceId,
    transferId: `t-${transfer.ownerEpoch}`,
    ownerId: transfer.ownerId ?? 'globex',
    fromOwnerId: 'acme',
    ownerEpoch: transfer.ownerEpoch,
    batchId: transfer.batchId,
  });
}
