import { Type } from '@sinclair/typebox';
import { defineCommand } from '../define-command.js';
import { AggregateId, IsoTimestamp } from '../envelope.js';
import { CustodyRecord, maxBatchSize, TopicRight } from '../events/registry.events.js';
import { Counter, Metadata, OneOf, PufProfile, Sha256Hex, SpkiDerBase64, Struct, Text } from '../primitives.js';
import { BulkResult, DeviceScope } from './scope.js';

export const DefineServerPolicy = defineCommand({
  name: 'DefineServerPolicy',
  service: 'registry',
  summary:
    'Define a server policy: the targets devices are onboarded to, their topic rights, and their certificate lifetime.',
  payload: {
    policyId: AggregateId,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    targetIds: Type.Array(AggregateId, { maxItems: 16 }),
    topicRights: Type.Array(TopicRight, { minItems: 1, maxItems: 32 }),
    certificateLifetimeDays: Type.Integer({ minimum: 1, maximum: 3650 }),
    /** The owner the policy belongs to; the gateway sets the caller's. Absent: the default owner. */
    ownerId: Type.Optional(AggregateId),
  },
  result: Struct({ policyId: AggregateId }),
});

export const CreateBatch = defineCommand({
  name: 'CreateBatch',
  service: 'registry',
  summary: 'Create a batch of devices (e.g. "1,000 fridges") bound to a server policy and an owner.',
  payload: {
    batchId: AggregateId,
    name: Text(200),
    policyId: AggregateId,
    ownerId: AggregateId,
    expectedSize: Type.Integer({ minimum: 1, maximum: maxBatchSize }),
    pufProfile: Type.Optional(PufProfile),
    metadata: Type.Optional(Metadata),
  },
  result: Struct({ batchId: AggregateId }),
});

/**
 * Rows per ImportIdentities call. 2,500 rows of PEM keys and some metadata stay under NATS's
 * default 1 MiB max_payload; clients (gateway, CLI) split larger files into several calls.
 */
export const maxImportRows = 2500;
export const maxImportCsvBytes = 900 * 1024;

/**
 * One row as the operator supplied it. Deliberately loose (bounded, not patterned): a bad key or
 * id must come back as that row's rejection in the report, not fail the whole call.
 */
export const IdentityRow = Struct({
  deviceId: Type.String({ maxLength: 256 }),
  /** PEM (`-----BEGIN PUBLIC KEY-----`) or base64 DER SubjectPublicKeyInfo. */
  enrolmentPublicKey: Type.String({ maxLength: 8192 }),
  metadata: Type.Optional(Metadata),
});

export const importRejectionReasons = [
  'invalid-row',
  'bad-device-id',
  'malformed-key',
  'not-p256',
  'id-mismatch',
  'duplicate-in-import',
  'in-other-batch',
  'key-conflict',
  'device-revoked',
  'batch-full',
] as const;

export const ImportRowReport = Struct({
  /** 1-based: the JSON array index + 1, or the CSV line number (header is line 1). */
  row: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
  /** Present when the row carried a well-formed device id. */
  deviceId: Type.Optional(AggregateId),
  /** `accepted` includes rows already imported into this batch with the same key (idempotent). */
  status: OneOf(['accepted', 'rejected']),
  reason: Type.Optional(OneOf(importRejectionReasons)),
});

export const ImportIdentities = defineCommand({
  name: 'ImportIdentities',
  service: 'registry',
  summary:
    'Import device identities into a batch (device id + enrolment public key + metadata), answered with a per-row report.',
  payload: {
    batchId: AggregateId,
    importId: AggregateId,
    source: Type.Union([
      Struct({ format: Type.Literal('json'), rows: Type.Array(IdentityRow, { minItems: 1, maxItems: maxImportRows }) }),
      /** Columns: deviceId, enrolmentPublicKey, then any metadata columns; a header line first. */
      Struct({ format: Type.Literal('csv'), text: Type.String({ minLength: 1, maxLength: maxImportCsvBytes }) }),
    ]),
  },
  result: Struct({
    batchId: AggregateId,
    importId: AggregateId,
    accepted: Counter,
    rejected: Counter,
    rows: Type.Array(ImportRowReport, { maxItems: maxImportRows * 4 }),
  }),
});

export const RequestEnrolmentKeys = defineCommand({
  name: 'RequestEnrolmentKeys',
  service: 'registry',
  summary:
    "Ask a batch's devices (or named devices) to report their enrolment public keys, for operators without an identity file.",
  payload: {
    batchId: AggregateId,
    requestId: AggregateId,
    deviceIds: Type.Optional(Type.Array(AggregateId, { minItems: 1, maxItems: 1000 })),
    /** How long answers are accepted. */
    ttlSeconds: Type.Integer({ minimum: 10, maximum: 86_400 }),
  },
  result: Struct({ requestId: AggregateId, expiresAt: IsoTimestamp }),
});

export const RegisterManufacturerKey = defineCommand({
  name: 'RegisterManufacturerKey',
  service: 'registry',
  summary:
    "Register a manufacturer's P-256 public key with a batch: devices whose enrolment key it attests join on an open enrolment-key request without approval.",
  payload: {
    batchId: AggregateId,
    keyId: AggregateId,
    /** SubjectPublicKeyInfo DER, base64. */
    publicKey: SpkiDerBase64,
  },
  result: Struct({ batchId: AggregateId, keyId: AggregateId }),
});

export const heldEnrolmentOutcomes = [
  'approved',
  'rejected',
  'not-held',
  'batch-full',
  'in-other-batch',
  'key-conflict',
  'device-revoked',
] as const;

export const DecideHeldEnrolments = defineCommand({
  name: 'DecideHeldEnrolments',
  service: 'registry',
  summary:
    'Approve (the devices join the batch) or reject devices an open enrolment-key request held for approval; answered per device.',
  payload: {
    batchId: AggregateId,
    requestId: AggregateId,
    deviceIds: Type.Array(AggregateId, { minItems: 1, maxItems: 1000 }),
    decision: OneOf(['approve', 'reject']),
  },
  result: Struct({
    batchId: AggregateId,
    requestId: AggregateId,
    devices: Type.Array(Struct({ deviceId: AggregateId, outcome: OneOf(heldEnrolmentOutcomes) }), { maxItems: 1000 }),
  }),
});

export const VerifyIdentity = defineCommand({
  name: 'VerifyIdentity',
  service: 'registry',
  summary:
    'Challenge devices to sign a fresh nonce with their enrolment key; IdentityVerified or IdentityVerificationFailed follows per device.',
  payload: { scope: DeviceScope },
  result: BulkResult,
});

/** Most devices one TransferOwnership names (a batch of them, each with its own custody record). */
export const maxDevicesPerTransfer = 1_000;

export const TransferOwnership = defineCommand({
  name: 'TransferOwnership',
  service: 'registry',
  summary:
    "Hand devices from their owner to another with a custody record each (the old owner's authorisation, the new owner's acceptance, the device's acknowledgement): every signature is checked before anything is recorded, then each device moves to a new owner epoch in the new owner's batch.",
  payload: {
    /** Names the transfer in every custody statement; a retry with the same id transfers nothing twice. */
    transferId: AggregateId,
    fromOwnerId: AggregateId,
    toOwnerId: AggregateId,
    /** The new owner's batch the devices join (its policy and targets apply from then on). */
    toBatchId: AggregateId,
    devices: Type.Array(Struct({ deviceId: AggregateId, custody: CustodyRecord }), {
      minItems: 1,
      maxItems: maxDevicesPerTransfer,
    }),
  },
  result: Struct({
    transferId: AggregateId,
    /** Devices this command moved. */
    transferred: Type.Integer({ minimum: 0, maximum: maxDevicesPerTransfer }),
    /** Devices a previous try of the same transfer moved already. */
    alreadyTransferred: Type.Integer({ minimum: 0, maximum: maxDevicesPerTransfer }),
  }),
});

export const RegisterOwnerKey = defineCommand({
  name: 'RegisterOwnerKey',
  service: 'registry',
  summary:
    'Register a P-256 public key an owner signs its custody statements with (authorising a transfer away, accepting one in).',
  payload: {
    ownerId: AggregateId,
    keyId: AggregateId,
    /** SubjectPublicKeyInfo DER, base64. */
    publicKey: SpkiDerBase64,
  },
  result: Struct({ ownerId: AggregateId, keyId: AggregateId, keyDigest: Sha256Hex }),
});
