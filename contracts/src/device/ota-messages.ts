/**
 * The OTA part of the device protocol. A device reports its firmware-decryption public keys at
 * enrolment (signed by its enrolment key: that is the attestation); a rollout offers it an update
 * (the delegation, the signed targets metadata and its own wrap of the content key); the device
 * fetches the encrypted image chunk by chunk (resumable: it asks from its last verified chunk),
 * installs, reboots and sends a boot report. Uplinks are signed by the enrolment key.
 */
import { Type } from '@sinclair/typebox';
import { AggregateId, IsoTimestamp } from '../envelope.js';
import {
  FirmwareImageSize,
  FirmwareKeysOwnerEpoch,
  MlKemPublicKey,
  ProductId,
  SignedMetadataJson,
  updateFailureReasons,
} from '../events/ota.events.js';
import {
  Base64,
  EcdsaP256Signature,
  FirmwareVersion,
  OneOf,
  Sha256Hex,
  SpkiDerBase64,
  Struct,
  Text,
} from '../primitives.js';
import { defineDeviceMessage } from './define-device-message.js';

/**
 * The most plaintext one chunk carries (OTA_CHUNK_BYTES is at most this). Chunks travel as binary
 * frames (firmware-chunk-frame.ts), not in envelopes, so only NATS's payload limit (1 MiB by
 * default) bounds them.
 */
export const maxFirmwareChunkBytes = 512 * 1024;
/** The most chunks one `firmware-chunk-request` asks for (a device keeps a window of chunks in flight). */
export const maxChunksPerRequest = 32;
const ChunkIndex = Type.Integer({ minimum: 0, maximum: 1_000_000 });

// ---- device -> platform (uplink) ----

export const FirmwareKeysMessage = defineDeviceMessage({
  kind: 'firmware-keys',
  direction: 'uplink',
  signedWith: 'enrolment',
  summary:
    "A device's firmware-decryption public keys (ECDH P-256, ML-KEM-768), PUF-derived; its enrolment key's signature attests them.",
  body: Struct({
    /** Echoed from a firmware-keys-request when answering one. */
    requestId: Type.Optional(AggregateId),
    /** The owner epoch the keys are derived under (absent: 0, the first owner's); the platform refuses another than the device's current one. */
    ownerEpoch: Type.Optional(FirmwareKeysOwnerEpoch),
    ecdhPublicKey: SpkiDerBase64,
    mlKemPublicKey: MlKemPublicKey,
    /** The enrolment key's signature over encryptionKeysAttestationBytes({ deviceId, ecdhPublicKey, mlKemPublicKey, ownerEpoch }). */
    attestation: EcdsaP256Signature,
  }),
});

export const FirmwareChunkRequestMessage = defineDeviceMessage({
  kind: 'firmware-chunk-request',
  direction: 'uplink',
  signedWith: 'enrolment',
  summary:
    'A device asks for encrypted chunks of the image it was offered: `count` (default 1) chunks from `index` on (from its last verified chunk on).',
  body: Struct({
    rolloutId: AggregateId,
    firmwareId: AggregateId,
    index: ChunkIndex,
    count: Type.Optional(Type.Integer({ minimum: 1, maximum: maxChunksPerRequest })),
  }),
});

export const UpdateReportMessage = defineDeviceMessage({
  kind: 'update-report',
  direction: 'uplink',
  signedWith: 'enrolment',
  summary:
    'A device reports the outcome of an offer: booted (with the measurement of the image now running) or failed, with the reason.',
  body: Struct({
    rolloutId: AggregateId,
    firmwareId: AggregateId,
    status: OneOf(['booted', 'failed']),
    /** The version running now (the old one after a refusal or a fallback). */
    firmwareVersion: FirmwareVersion,
    /** SHA-256 of the image running now, as the boot ROM measured it. */
    firmwareMeasurement: Sha256Hex,
    reason: Type.Optional(OneOf(updateFailureReasons)),
    detail: Type.Optional(Text(512)),
  }),
});

// ---- platform -> device (downlink, the device's inbox) ----

export const FirmwareKeysRequestMessage = defineDeviceMessage({
  kind: 'firmware-keys-request',
  direction: 'downlink',
  summary: 'The platform asks a device to report its firmware-decryption public keys again.',
  body: Struct({ requestId: AggregateId }),
});

export const UpdateOfferMessage = defineDeviceMessage({
  kind: 'update-offer',
  direction: 'downlink',
  summary:
    "The platform offers a firmware update: the signing-key delegation, the dual-signed targets metadata and this device's wrap of the content key.",
  body: Struct({
    rolloutId: AggregateId,
    firmwareId: AggregateId,
    product: ProductId,
    version: FirmwareVersion,
    /** The platform key's delegation to the signing keys (FirmwareSigningKeyDelegated), as signed. */
    delegation: SignedMetadataJson,
    /** The release's targets metadata with both signatures (FirmwareImageSigned), as signed. */
    targets: SignedMetadataJson,
    /** This device's hybrid (ECDH P-256 + ML-KEM-768) wrap of the rollout's content key (@tunnelkey/firmware wrapContentKey). */
    keyWrap: Base64(2048),
    /** Plaintext bytes per chunk (the last is shorter), and how many chunks. */
    chunkSize: Type.Integer({ minimum: 1, maximum: maxFirmwareChunkBytes }),
    chunkCount: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
    sizeBytes: FirmwareImageSize,
    /** The boot report is expected before this. */
    deadline: IsoTimestamp,
  }),
});

// The chunks themselves come back as binary frames, not envelopes: see firmware-chunk-frame.ts.
