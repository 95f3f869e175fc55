import { Type } from '@sinclair/typebox';
import { defineEvent } from '../define-event.js';
import { AggregateId, IsoTimestamp } from '../envelope.js';
import { DeviceKeyId, OneOf, SerialHex, Sha256Hex, Struct, TlsKeyId } from '../primitives.js';

/**
 * Certificate renewal, rotate then revoke (issue 17). One renewal is one tracked process on its own
 * subject (`ca.renewal.<renewalId>`): requested (recorded before the device is asked for a CSR for
 * its next TLS key generation), renewed (the new certificate issued: the device holds two valid
 * certificates), completed (the device reported it connected with the new one; only then is the
 * previous certificate revoked, as `superseded`) or expired (the previous certificate stays valid).
 */

/** Why a certificate is renewed: its policy share of lifetime passed, an operator asked, or a suspected key exposure. */
export const renewalReasons = ['scheduled', 'operator', 'key-exposure'] as const;
export type RenewalReason = (typeof renewalReasons)[number];
export const RenewalReason = OneOf(renewalReasons);

/** The certificate a renewal replaces. */
const PreviousCertificate = Struct({
  authorityId: AggregateId,
  serialNumber: SerialHex,
  keyId: DeviceKeyId,
  notAfter: IsoTimestamp,
});

export const CertificateRenewalRequested = defineEvent({
  type: 'CertificateRenewalRequested',
  version: 1,
  context: 'ca',
  aggregate: 'renewal',
  summary:
    "A device's certificate is to be renewed: it is asked for a CSR for its next TLS key generation; its current certificate stays valid.",
  public: true,
  data: Struct({
    renewalId: AggregateId,
    deviceId: AggregateId,
    reason: RenewalReason,
    /** The command (or the scheduler's sweep) that started it: a batch's renewals share it, for progress. */
    operationId: AggregateId,
    /** The CSR request the device answers (CertificateIssued with this requestId). */
    requestId: AggregateId,
    /** The new key: the next TLS generation, derived under its own context. */
    keyId: TlsKeyId,
    previous: PreviousCertificate,
    /** Not renewed by then, the renewal is given up (CertificateRenewalExpired). */
    expiresAt: IsoTimestamp,
  }),
});

export const DeviceCertificateRenewed = defineEvent({
  type: 'DeviceCertificateRenewed',
  version: 1,
  context: 'ca',
  aggregate: 'renewal',
  summary:
    'A renewal got its new certificate (new key, attested by the enrolment key); the device holds it and the previous one, both valid, until it switches.',
  public: true,
  data: Struct({
    renewalId: AggregateId,
    deviceId: AggregateId,
    reason: RenewalReason,
    operationId: AggregateId,
    requestId: AggregateId,
    authorityId: AggregateId,
    serialNumber: SerialHex,
    keyId: TlsKeyId,
    fingerprintSha256: Sha256Hex,
    notBefore: IsoTimestamp,
    notAfter: IsoTimestamp,
    previous: PreviousCertificate,
  }),
});

export const CertificateRenewalCompleted = defineEvent({
  type: 'CertificateRenewalCompleted',
  version: 1,
  context: 'ca',
  aggregate: 'renewal',
  summary:
    'The device connected with its new certificate and said so (signed); its previous certificate is revoked (superseded) and listed on the next CRL.',
  public: true,
  data: Struct({
    renewalId: AggregateId,
    deviceId: AggregateId,
    operationId: AggregateId,
    serialNumber: SerialHex,
    /** The target the device reported connecting to with the new certificate. */
    targetId: AggregateId,
    switchedAt: IsoTimestamp,
    /** Revoked with reason `superseded`: the device itself is not revoked. */
    revokedPrevious: Struct({ authorityId: AggregateId, serialNumber: SerialHex, revokedAt: IsoTimestamp }),
  }),
});

export const CertificateRenewalExpired = defineEvent({
  type: 'CertificateRenewalExpired',
  version: 1,
  context: 'ca',
  aggregate: 'renewal',
  summary:
    'A renewal was given up before the device switched: no CSR answered, or no switch reported. Its previous certificate stays valid; any new one too.',
  public: true,
  data: Struct({
    renewalId: AggregateId,
    deviceId: AggregateId,
    operationId: AggregateId,
    /** Where it stopped: waiting for the CSR, or for the device to connect with the new certificate. */
    stage: OneOf(['csr', 'switch']),
  }),
});

/** Share of a certificate's lifetime after which it is renewed, unless the policy says otherwise. */
export const defaultRenewAtShare = 2 / 3;
/** Spread of renewal times, as a share of the lifetime, so a batch certified together does not renew at once. */
export const defaultRenewalJitterShare = 0.1;

export const RenewalPolicyDefined = defineEvent({
  type: 'RenewalPolicyDefined',
  version: 1,
  context: 'registry',
  aggregate: 'policy',
  summary:
    "A server policy's renewal settings: the share of lifetime after which certificates renew, its jitter, and an optional lifetime shorter than a day.",
  public: true,
  data: Struct({
    policyId: AggregateId,
    /** Renew once this share of the lifetime has passed (default 2/3). */
    renewAtShare: Type.Number({ minimum: 0.1, maximum: 0.95 }),
    /** Renewal times spread over this share of the lifetime, before renewAtShare (default 0.1). */
    jitterShare: Type.Number({ minimum: 0, maximum: 0.5 }),
    /** When set, overrides the policy's certificateLifetimeDays: down to one hour. */
    certificateLifetimeSeconds: Type.Optional(Type.Integer({ minimum: 3600, maximum: 3650 * 86_400 })),
  }),
});
