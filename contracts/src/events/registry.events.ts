import { Type } from '@sinclair/typebox';
import { defineEvent } from '../define-event.js';
import { AggregateId, IsoTimestamp } from '../envelope.js';
import {
  Counter,
  EcdsaP256Signature,
  FirmwareVersion,
  Metadata,
  OneOf,
  PufProfile,
  RevocationReason,
  SerialHex,
  Sha256Hex,
  SpkiDerBase64,
  Struct,
  Text,
} from '../primitives.js';

export const TopicRight = Type.Object(
  {
    /** MQTT topic filter; `{deviceId}` is replaced by the device's id. */
    topic: Type.String({ minLength: 1, maxLength: 256 }),
    access: Type.Union([Type.Literal('publish'), Type.Literal('subscribe'), Type.Literal('publish-subscribe')]),
  },
  { additionalProperties: false },
);

// v1 (without an owner) is in server-policy-defined.v1.ts: stored v1 events upcast to the default owner.
export const ServerPolicyDefined = defineEvent({
  type: 'ServerPolicyDefined',
  version: 2,
  context: 'registry',
  aggregate: 'policy',
  summary:
    'An operator defined a server policy: the targets a batch is onboarded to, the rights its devices get, and their certificate lifetime.',
  public: true,
  data: Type.Object(
    {
      policyId: AggregateId,
      name: Type.String({ minLength: 1, maxLength: 200 }),
      /** Onboarding target ids (e.g. a Mosquitto broker) the devices are registered with. */
      targetIds: Type.Array(AggregateId, { maxItems: 16 }),
      topicRights: Type.Array(TopicRight, { minItems: 1, maxItems: 32 }),
      certificateLifetimeDays: Type.Integer({ minimum: 1, maximum: 3650 }),
      /** The owner (tenant) the policy belongs to: only its batches may be bound to it. */
      ownerId: AggregateId,
    },
    { additionalProperties: false },
  ),
});

/** Largest batch an operator can create; a bound, not a promise of throughput. */
export const maxBatchSize = 1_000_000;

export const BatchCreated = defineEvent({
  type: 'BatchCreated',
  version: 1,
  context: 'registry',
  aggregate: 'batch',
  summary: 'An operator created a batch of devices bound to a server policy and an owner.',
  public: true,
  data: Struct({
    batchId: AggregateId,
    name: Text(200),
    policyId: AggregateId,
    /** The tenant that owns the devices; selects the issuing CA. */
    ownerId: AggregateId,
    expectedSize: Type.Integer({ minimum: 1, maximum: maxBatchSize }),
    pufProfile: Type.Optional(PufProfile),
    metadata: Type.Optional(Metadata),
  }),
});

/** Where identities came from: an operator's file, or devices that reported their keys when asked. */
export const IdentitySource = OneOf(['json', 'csv', 'device-report']);

export const IdentitiesImported = defineEvent({
  type: 'IdentitiesImported',
  version: 1,
  context: 'registry',
  aggregate: 'batch',
  summary:
    'One import call finished for a batch: how many rows were accepted and rejected (the per-device facts are DeviceIdentityImported).',
  public: true,
  data: Struct({
    batchId: AggregateId,
    importId: AggregateId,
    source: IdentitySource,
    accepted: Counter,
    rejected: Counter,
  }),
});

/** Most devices one admission into a batch names (an import call's rows: maxImportRows). */
export const maxPlacesPerAdmission = 2500;

/**
 * Internal to the registry. A batch's members are devices, each its own aggregate, so no append of
 * a device can check the batch's expected size; the places are reserved on the batch's own stream
 * first (an append with its expected version), so two registry instances admitting devices into
 * one batch at once cannot overshoot it.
 */
export const BatchPlacesReserved = defineEvent({
  type: 'BatchPlacesReserved',
  version: 1,
  context: 'registry',
  aggregate: 'batch',
  summary: 'Places in a batch were reserved for devices about to join it (the batch enforces its expected size here).',
  data: Struct({
    batchId: AggregateId,
    /** The devices that took a place now (never one that held a place already). */
    deviceIds: Type.Array(AggregateId, { minItems: 1, maxItems: maxPlacesPerAdmission }),
  }),
});

/** Internal to the registry: devices that reserved a place but could not join (in another batch, a key conflict). */
export const BatchPlacesReleased = defineEvent({
  type: 'BatchPlacesReleased',
  version: 1,
  context: 'registry',
  aggregate: 'batch',
  summary: 'Places reserved in a batch were given back: their devices could not join it.',
  data: Struct({
    batchId: AggregateId,
    deviceIds: Type.Array(AggregateId, { minItems: 1, maxItems: maxPlacesPerAdmission }),
  }),
});

export const DeviceIdentityImported = defineEvent({
  type: 'DeviceIdentityImported',
  version: 1,
  context: 'registry',
  aggregate: 'device',
  summary: "A device's identity was imported into a batch: its enrolment public key (the id is that key's digest).",
  public: true,
  data: Struct({
    deviceId: AggregateId,
    batchId: AggregateId,
    importId: AggregateId,
    source: IdentitySource,
    /** P-256 SubjectPublicKeyInfo, DER, base64. A public key: the platform never learns a private one. */
    enrolmentPublicKey: SpkiDerBase64,
    /** SHA-256 of the SPKI DER; the device id is derived from it. */
    enrolmentKeyDigest: Sha256Hex,
    metadata: Type.Optional(Metadata),
  }),
});

export const DeviceAnnounced = defineEvent({
  type: 'DeviceAnnounced',
  version: 1,
  context: 'registry',
  aggregate: 'device',
  summary: 'A device unknown to the registry announced itself with its enrolment public key and firmware measurement.',
  public: true,
  data: Struct({
    deviceId: AggregateId,
    enrolmentPublicKey: SpkiDerBase64,
    enrolmentKeyDigest: Sha256Hex,
    firmwareMeasurement: Sha256Hex,
    firmwareVersion: Type.Optional(FirmwareVersion),
    pufProfile: Type.Optional(PufProfile),
  }),
});

export const EnrolmentKeysRequested = defineEvent({
  type: 'EnrolmentKeysRequested',
  version: 1,
  context: 'registry',
  aggregate: 'batch',
  summary:
    "An operator without an identity file asked a batch's devices (or named devices) to report their enrolment public keys.",
  public: true,
  data: Struct({
    batchId: AggregateId,
    requestId: AggregateId,
    /**
     * Absent: an open request. A device that answers before `expiresAt` joins the batch when a
     * manufacturer key registered with the batch attests its key; any other is held for approval.
     */
    deviceIds: Type.Optional(Type.Array(AggregateId, { minItems: 1, maxItems: 1000 })),
    expiresAt: IsoTimestamp,
  }),
});

/** A manufacturer key registered with a batch: reports carrying its attestation join the batch unasked. */
export const ManufacturerKeyRegistered = defineEvent({
  type: 'ManufacturerKeyRegistered',
  version: 1,
  context: 'registry',
  aggregate: 'batch',
  summary:
    "An operator registered a manufacturer's public key with a batch: a device whose enrolment key it attests may join on an open enrolment-key request.",
  data: Struct({
    batchId: AggregateId,
    keyId: AggregateId,
    /** P-256 SubjectPublicKeyInfo, DER, base64. */
    publicKey: SpkiDerBase64,
    keyDigest: Sha256Hex,
  }),
});

/** Why a device that answered an open request waits for an operator. */
export const enrolmentHoldReasons = ['unattested', 'attestation-invalid'] as const;

/** Most devices one enrolment-key request holds for approval; later unattested answers are dropped. */
export const maxHeldPerRequest = 1000;

export const EnrolmentApprovalRequested = defineEvent({
  type: 'EnrolmentApprovalRequested',
  version: 1,
  context: 'registry',
  aggregate: 'batch',
  summary:
    'A device answered an open enrolment-key request without a valid manufacturer attestation: it waits for an operator to approve or reject it.',
  data: Struct({
    batchId: AggregateId,
    requestId: AggregateId,
    deviceId: AggregateId,
    enrolmentPublicKey: SpkiDerBase64,
    enrolmentKeyDigest: Sha256Hex,
    firmwareMeasurement: Sha256Hex,
    reason: OneOf(enrolmentHoldReasons),
  }),
});

export const HeldEnrolmentDecided = defineEvent({
  type: 'HeldEnrolmentDecided',
  version: 1,
  context: 'registry',
  aggregate: 'batch',
  summary: 'An operator approved (the device joined the batch) or rejected a device held for approval.',
  data: Struct({
    batchId: AggregateId,
    requestId: AggregateId,
    deviceId: AggregateId,
    decision: OneOf(['approved', 'rejected']),
  }),
});

export const EnrolmentKeyReported = defineEvent({
  type: 'EnrolmentKeyReported',
  version: 1,
  context: 'registry',
  aggregate: 'device',
  summary: 'A device reported its enrolment public key in answer to a request (a signed enrolment-key-report).',
  public: true,
  data: Struct({
    deviceId: AggregateId,
    requestId: AggregateId,
    batchId: AggregateId,
    enrolmentPublicKey: SpkiDerBase64,
    enrolmentKeyDigest: Sha256Hex,
    firmwareMeasurement: Sha256Hex,
  }),
});

/**
 * Internal to the registry. VerifyIdentity accepted: the devices it will challenge, recorded on
 * `registry.verification.<commandId>` before the command is answered (one event per 1,000
 * devices), so the devices not challenged yet are owed a challenge in the log, not only in the
 * memory of the instance that answered: an instance that starts, or a survivor, challenges them.
 */
export const IdentityChallengesQueued = defineEvent({
  type: 'IdentityChallengesQueued',
  version: 1,
  context: 'registry',
  aggregate: 'verification',
  summary: 'VerifyIdentity accepted: these devices are owed an identity challenge, sent as the window has room.',
  data: Struct({
    /** The VerifyIdentity command: each device's challenge derives from it. */
    commandId: AggregateId,
    deviceIds: Type.Array(AggregateId, { minItems: 1, maxItems: 1000 }),
  }),
});

export const IdentityChallengeIssued = defineEvent({
  type: 'IdentityChallengeIssued',
  version: 1,
  context: 'registry',
  aggregate: 'device',
  summary: 'The registry sent a device a fresh nonce to sign with its enrolment key.',
  data: Struct({
    deviceId: AggregateId,
    challengeId: AggregateId,
    /** SHA-256 of the nonce: enough to match the answer, and the log never replays a usable nonce. */
    nonceDigest: Sha256Hex,
    expiresAt: IsoTimestamp,
  }),
});

export const IdentityVerified = defineEvent({
  type: 'IdentityVerified',
  version: 1,
  context: 'registry',
  aggregate: 'device',
  summary: 'A device proved possession of its enrolled key by signing a fresh nonce.',
  public: true,
  data: Struct({
    deviceId: AggregateId,
    challengeId: AggregateId,
    nonceDigest: Sha256Hex,
    enrolmentKeyDigest: Sha256Hex,
    firmwareMeasurement: Type.Optional(Sha256Hex),
  }),
});

export const identityVerificationFailures = [
  'bad-signature',
  'wrong-key',
  'nonce-mismatch',
  'expired',
  'replayed',
  'no-response',
  'malformed-response',
] as const;

export const IdentityVerificationFailed = defineEvent({
  type: 'IdentityVerificationFailed',
  version: 1,
  context: 'registry',
  aggregate: 'device',
  summary: 'A device failed to prove possession of its enrolled key.',
  public: true,
  data: Struct({
    deviceId: AggregateId,
    challengeId: AggregateId,
    nonceDigest: Sha256Hex,
    reason: OneOf(identityVerificationFailures),
  }),
});

export const DeviceCertified = defineEvent({
  type: 'DeviceCertified',
  version: 1,
  context: 'registry',
  aggregate: 'device',
  summary: 'The registry recorded that a device holds a valid certificate (after the CA issued it).',
  public: true,
  data: Struct({
    deviceId: AggregateId,
    authorityId: AggregateId,
    serialNumber: SerialHex,
    fingerprintSha256: Sha256Hex,
    notAfter: IsoTimestamp,
  }),
});

export const integrityAlertKinds = [
  'firmware-measurement-mismatch',
  'unexpected-enrolment-key',
  'bad-message-signature',
  'replayed-message',
  'counter-regression',
  'helper-data-tampered',
  'unexpected-location',
] as const;

export const IntegrityAlertRaised = defineEvent({
  type: 'IntegrityAlertRaised',
  version: 1,
  context: 'registry',
  aggregate: 'device',
  summary: 'Something a device sent or measured does not match what the platform expects of it.',
  public: true,
  data: Struct({
    deviceId: AggregateId,
    alertId: AggregateId,
    kind: OneOf(integrityAlertKinds),
    severity: OneOf(['low', 'medium', 'high', 'critical']),
    /** Service that noticed it, e.g. `ca` or `registry`. */
    detectedBy: AggregateId,
    expectedMeasurement: Type.Optional(Sha256Hex),
    observedMeasurement: Type.Optional(Sha256Hex),
    detail: Type.Optional(Text(512)),
  }),
});

export const OwnershipTransferRequested = defineEvent({
  type: 'OwnershipTransferRequested',
  version: 1,
  context: 'registry',
  aggregate: 'device',
  summary: 'An operator asked to hand a device to a new owner (it will re-enrol under new owner keys).',
  public: true,
  data: Struct({
    deviceId: AggregateId,
    transferId: AggregateId,
    fromOwnerId: AggregateId,
    toOwnerId: AggregateId,
    /** The new owner's batch the device joins, if already chosen. */
    toBatchId: Type.Optional(AggregateId),
  }),
});

/** One party's signature over a custody statement (contracts' custodyStatementBytes, its role). */
export const CustodySignature = Struct({
  /** SHA-256 hex of the SubjectPublicKeyInfo DER of the key that signed. */
  keyDigest: Sha256Hex,
  signature: EcdsaP256Signature,
});

/**
 * A device's custody record, like a FIDO Device Onboard ownership voucher entry: the old owner's
 * authorisation (a custody key the old owner registered), the new owner's acceptance (one of the new
 * owner's custody keys) and the device's acknowledgement (its PUF-derived enrolment key), each over
 * the same statement (custodyStatementBytes) under its own role. Every one is checked before it is recorded.
 */
export const CustodyRecord = Struct({
  authorisation: CustodySignature,
  acceptance: CustodySignature,
  acknowledgement: CustodySignature,
});

// v1 (without the old owner and the custody record) is in ownership-transfer-completed.v1.ts.
export const OwnershipTransferCompleted = defineEvent({
  type: 'OwnershipTransferCompleted',
  version: 2,
  context: 'registry',
  aggregate: 'device',
  summary:
    "A device now belongs to its new owner, under a new owner epoch, with its custody record appended to its history; the old owner's certificates are revoked and the device is re-provisioned in the new owner's batch.",
  public: true,
  data: Struct({
    deviceId: AggregateId,
    transferId: AggregateId,
    /** The new owner. */
    ownerId: AggregateId,
    /** The owner it had (absent only in a transfer recorded as v1). */
    fromOwnerId: Type.Optional(AggregateId),
    /** The device derives its keys under this epoch; the previous owner cannot derive them. */
    ownerEpoch: Type.Integer({ minimum: 1, maximum: 65535 }),
    /** The new owner's batch the device joins. */
    batchId: Type.Optional(AggregateId),
    /** Absent only in a transfer recorded as v1 (before custody records); every transfer since carries one. */
    custody: Type.Optional(CustodyRecord),
  }),
});

/** An owner registered a public key it signs custody statements with (authorising or accepting a transfer). */
export const OwnerCustodyKeyRegistered = defineEvent({
  type: 'OwnerCustodyKeyRegistered',
  version: 1,
  context: 'registry',
  aggregate: 'owner',
  summary: 'An owner registered a P-256 public key that signs its ownership transfers (authorisation or acceptance).',
  public: true,
  data: Struct({
    ownerId: AggregateId,
    keyId: AggregateId,
    /** SubjectPublicKeyInfo DER, base64. */
    publicKey: SpkiDerBase64,
    /** SHA-256 hex of the DER: what custody records name. */
    keyDigest: Sha256Hex,
  }),
});

export const DeviceRevoked = defineEvent({
  type: 'DeviceRevoked',
  version: 1,
  context: 'registry',
  aggregate: 'device',
  summary: 'The registry marked a device revoked: it cannot be certified or onboarded again.',
  public: true,
  data: Struct({
    deviceId: AggregateId,
    revocationId: AggregateId,
    reason: RevocationReason,
    revokedAt: IsoTimestamp,
  }),
});
