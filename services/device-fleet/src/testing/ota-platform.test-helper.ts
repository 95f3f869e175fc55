/**
 * Test double for the OTA service, device side only: holds a pair of firmware-signing keys, the
 * platform key's delegation to them, signs releases, encrypts an image per rollout and wraps its
 * key for a device (from the device's own firmware-keys report), then serves the chunks a device
 * asks for. The real service is services/ota; this is just enough to drive a device.
 */
import { createHash } from 'node:crypto';
import {
  FirmwareChunkRequestMessage,
  FirmwareKeysMessage,
  FirmwareKeysRequestMessage,
  UpdateOfferMessage,
  UpdateReportMessage,
  type DeviceBodyOf,
  type DeviceEnvelope,
  encodeFirmwareChunkFrame,
  firmwareChunkFrameSubject,
} from '@tunnelkey/contracts';
import {
  encryptImage,
  encryptedChunkRange,
  encryptionKeysAttestationValid,
  generateContentKey,
  generateFirmwareSigningKeys,
  metadataToJson,
  signDelegation,
  signRelease,
  wrapContentKey,
  type EncryptedImage,
  type FirmwareSigningKeys,
} from '@tunnelkey/firmware';
import { SimulatedDevice } from '../simulated-device/simulated-device.js';
import type { memoryTransport, PlatformDouble } from './platform-double.test-helper.js';

type Transport = ReturnType<typeof memoryTransport>;
export type UpdateReport = DeviceBodyOf<typeof UpdateReportMessage>;

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** A deterministic test image of `length` bytes. */
export function testFirmware(length: number, fill = 1): Uint8Array {
  const image = new Uint8Array(length);
  for (let i = 0; i < length; i++) image[i] = (i * 13 + fill) & 0xff;
  return image;
}

export interface TestRollout {
  rolloutId: string;
  firmwareId: string;
  version: string;
  image: Uint8Array;
  encrypted: EncryptedImage;
  contentKey: Uint8Array;
  targets: string;
}

export interface OtaDouble {
  keys: FirmwareSigningKeys;
  delegation: string;
  /** A release, signed, encrypted for one rollout. */
  rollout(options: {
    rolloutId: string;
    version: string;
    image?: Uint8Array;
    metadataVersion?: number;
    product?: string;
    expires?: string;
    chunkSize?: number;
  }): Promise<TestRollout>;
  /** The device's firmware-decryption keys, from its attested `firmware-keys` report. */
  deviceKeys(device: SimulatedDevice): Promise<{ ecdhPublicKey: Uint8Array; mlKemPublicKey: Uint8Array }>;
  /**
   * Offers a rollout to a device, wrapping for `wrapFor`: another device's keys as it reports them
   * now (by default the device's own), or keys learned earlier (e.g. before an ownership transfer).
   */
  offer(
    device: SimulatedDevice,
    rollout: TestRollout,
    wrapFor?: SimulatedDevice | { ecdhPublicKey: Uint8Array; mlKemPublicKey: Uint8Array },
  ): Promise<void>;
  /**
   * Answers the device's chunk requests until it sends an update report (returned). `drop(index,
   * attempt)` true loses that delivery. Uplinks are verified as the platform would.
   */
  serve(device: SimulatedDevice, rollout: TestRollout, drop?: (index: number) => boolean): Promise<UpdateReport>;
  /** Every uplink the device sent, verified, in order. */
  uplinks(device: SimulatedDevice): Promise<DeviceEnvelope[]>;
}

export async function otaDouble(platform: PlatformDouble, transport: Transport): Promise<OtaDouble> {
  const { keys } = generateFirmwareSigningKeys();
  const delegation = metadataToJson(
    await signDelegation(
      {
        version: 1,
        expires: new Date(Date.now() + 7 * 86_400_000).toISOString(),
        ecdsa: keys.ecdsa.key,
        mlDsa: keys.mlDsa.key,
      },
      platform.key,
    ),
  );
  let seen = 0;
  const verified: DeviceEnvelope[] = [];
  const pull = async (device: SimulatedDevice): Promise<DeviceEnvelope[]> => {
    const fresh: DeviceEnvelope[] = [];
    for (; seen < transport.sent.length; seen++) {
      const { subject, data } = transport.sent[seen]!;
      const envelope = await platform.verifyUplink(subject, data, device.enrolmentPublicKey);
      verified.push(envelope);
      fresh.push(envelope);
    }
    return fresh;
  };
  const deliver = async (device: SimulatedDevice, downlink: { subject: string; data: Uint8Array }) =>
    device.receive(downlink.subject, downlink.data);

  const self: OtaDouble = {
    keys,
    delegation,
    async rollout(o) {
      const image = o.image ?? testFirmware(10_000);
      const imageSha256 = sha256Hex(image);
      const firmwareId = `fw-${o.version.replace(/[^0-9a-z]/gi, '-')}`;
      const targets = metadataToJson(
        await signRelease(
          {
            firmwareId,
            product: o.product ?? 'fridge-x200',
            version: o.version,
            imageSha256,
            length: image.length,
            metadataVersion: o.metadataVersion ?? 1,
            expires: o.expires ?? new Date(Date.now() + 86_400_000).toISOString(),
          },
          keys,
        ),
      );
      const contentKey = generateContentKey();
      const encrypted = encryptImage(image, imageSha256, contentKey, o.chunkSize ?? 2048);
      return { rolloutId: o.rolloutId, firmwareId, version: o.version, image, encrypted, contentKey, targets };
    },
    async deviceKeys(device) {
      const requestId = `keys-${transport.sent.length}`;
      await deliver(device, await platform.downlink(FirmwareKeysRequestMessage, device.deviceId, { requestId }));
      const report = (await pull(device)).find((e) => e.kind === FirmwareKeysMessage.kind);
      if (!report) throw new Error('the device did not report its firmware keys');
      if ((report.body as { requestId?: string }).requestId !== requestId) throw new Error('requestId not echoed');
      const body = report.body as DeviceBodyOf<typeof FirmwareKeysMessage>;
      const statement = {
        deviceId: device.deviceId,
        ecdhPublicKey: body.ecdhPublicKey,
        mlKemPublicKey: body.mlKemPublicKey,
        ...(body.ownerEpoch === undefined ? {} : { ownerEpoch: body.ownerEpoch }),
      };
      if (!encryptionKeysAttestationValid(statement, body.attestation, device.enrolmentPublicKey))
        throw new Error('firmware keys attestation does not verify');
      return {
        ecdhPublicKey: new Uint8Array(Buffer.from(body.ecdhPublicKey, 'base64')),
        mlKemPublicKey: new Uint8Array(Buffer.from(body.mlKemPublicKey, 'base64')),
      };
    },
    async offer(device, rollout, wrapFor = device) {
      const learned = !(wrapFor instanceof SimulatedDevice);
      const keysOf = learned ? wrapFor : await self.deviceKeys(wrapFor);
      await pull(device);
      const keyWrap = wrapContentKey(rollout.contentKey, keysOf, {
        deviceId: learned ? device.deviceId : wrapFor.deviceId,
        rolloutId: rollout.rolloutId,
      });
      const deadline = new Date(Date.now() + 60_000).toISOString();
      const body: DeviceBodyOf<typeof UpdateOfferMessage> = {
        rolloutId: rollout.rolloutId,
        firmwareId: rollout.firmwareId,
        product: 'fridge-x200',
        version: rollout.version,
        delegation,
        targets: rollout.targets,
        keyWrap: Buffer.from(keyWrap).toString('base64'),
        chunkSize: rollout.encrypted.header.chunkSize,
        chunkCount: rollout.encrypted.header.chunkCount,
        sizeBytes: rollout.image.length,
        deadline,
      };
      await deliver(device, await platform.downlink(UpdateOfferMessage, device.deviceId, body));
    },
    async serve(device, rollout, drop = () => false) {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const fresh = await pull(device);
        for (const envelope of fresh) {
          if (envelope.kind === UpdateReportMessage.kind) return envelope.body as UpdateReport;
          if (envelope.kind !== FirmwareChunkRequestMessage.kind) continue;
          const ask = envelope.body as DeviceBodyOf<typeof FirmwareChunkRequestMessage>;
          const { header, ciphertext } = rollout.encrypted;
          for (let index = ask.index; index < Math.min(ask.index + (ask.count ?? 1), header.chunkCount); index++) {
            if (drop(index)) continue;
            const { offset, length } = encryptedChunkRange(header, index);
            const sealed = ciphertext.subarray(offset, offset + length);
            const frame = encodeFirmwareChunkFrame({ rolloutId: ask.rolloutId, index, sealed });
            await deliver(device, { subject: firmwareChunkFrameSubject(device.deviceId), data: frame });
          }
        }
        if (fresh.length === 0) {
          if (Date.now() > deadline) throw new Error('no update report within 10 s');
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
    },
    async uplinks(device) {
      await pull(device);
      return verified.filter((e) => e.deviceId === device.deviceId);
    },
  };
  return self;
}
