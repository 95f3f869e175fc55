import { Type } from '@sinclair/typebox';
import { defineEvent } from '../define-event.js';
import { AggregateId, IsoTimestamp } from '../envelope.js';
import {
  CertificateChainPem,
  CertificatePem,
  Counter,
  DeviceKeyId,
  DistinguishedName,
  HttpUrl,
  OneOf,
  RevocationReason,
  SerialHex,
  Sha256Hex,
  Struct,
  Text,
} from '../primitives.js';

/**
 * CA events carry certificates (public) and digests, never a private key: CA keys are encrypted
 * at rest in the CA's own key store, outside the log.
 */

export const AuthorityCreated = defineEvent({
  type: 'AuthorityCreated',
  version: 1,
  context: 'ca',
  aggregate: 'authority',
  summary:
    'A certificate authority (the root, or an issuing CA for an owner) was created; carries its public certificate only.',
  public: true,
  data: Struct({
    authorityId: AggregateId,
    role: OneOf(['root', 'issuing']),
    /** Issuing CAs are per owner (tenant); the root has none. */
    ownerId: Type.Optional(AggregateId),
    parentAuthorityId: Type.Optional(AggregateId),
    subject: DistinguishedName,
    serialNumber: SerialHex,
    notBefore: IsoTimestamp,
    notAfter: IsoTimestamp,
    keyAlgorithm: OneOf(['ECDSA-P256']),
    fingerprintSha256: Sha256Hex,
    certificatePem: CertificatePem,
    /** CRL distribution point named in certificates this authority issues. */
    crlUrl: Type.Optional(HttpUrl),
  }),
});

export const AuthorityKeyExported = defineEvent({
  type: 'AuthorityKeyExported',
  version: 1,
  context: 'ca',
  aggregate: 'authority',
  summary:
    "An authority's (encrypted) private key was exported and removed from the online CA, e.g. the root once issuing CAs exist.",
  data: Struct({
    authorityId: AggregateId,
    /** SHA-256 of the exported encrypted key blob, so a later import can be matched to it. */
    exportDigest: Sha256Hex,
  }),
});

export const CertificateRequested = defineEvent({
  type: 'CertificateRequested',
  version: 1,
  context: 'ca',
  aggregate: 'device',
  summary: 'A device sent a certificate signing request; the CA accepted it for checking.',
  public: true,
  data: Struct({
    deviceId: AggregateId,
    /** Stable per request: a retried CSR maps to the same request and the same certificate. */
    requestId: AggregateId,
    /** SHA-256 of the CSR DER (the CSR itself stays with the CA). */
    csrDigest: Sha256Hex,
    /** SHA-256 of the SPKI DER of the key to be certified. */
    publicKeyDigest: Sha256Hex,
    /** Which device key is to be certified. */
    keyId: DeviceKeyId,
    /** True when a TLS key came with an attestation signed by the enrolment key. */
    attested: Type.Boolean(),
  }),
});

export const CertificateIssued = defineEvent({
  type: 'CertificateIssued',
  version: 1,
  context: 'ca',
  aggregate: 'device',
  summary: 'The CA issued a device certificate; carries the leaf and its chain as PEM (certificates are public).',
  public: true,
  data: Struct({
    deviceId: AggregateId,
    requestId: AggregateId,
    authorityId: AggregateId,
    serialNumber: SerialHex,
    subject: DistinguishedName,
    issuer: DistinguishedName,
    notBefore: IsoTimestamp,
    notAfter: IsoTimestamp,
    fingerprintSha256: Sha256Hex,
    publicKeyDigest: Sha256Hex,
    keyId: DeviceKeyId,
    certificatePem: CertificatePem,
    /** Issuing CA first, up to the root. */
    chainPem: CertificateChainPem,
  }),
});

export const certificateRejectionReasons = [
  'malformed-csr',
  'oversized-csr',
  'bad-csr-signature',
  'unsupported-key',
  'key-not-enrolled',
  'bad-key-attestation',
  'unknown-device',
  'device-not-verified',
  'device-in-no-batch',
  'policy-forbids-issuance',
  'device-revoked',
  'replayed-message',
  'bad-message-signature',
] as const;
export const CertificateRejectionReason = OneOf(certificateRejectionReasons);

export const CertificateRejected = defineEvent({
  type: 'CertificateRejected',
  version: 1,
  context: 'ca',
  aggregate: 'device',
  summary: 'The CA refused a certificate request, with a machine-readable reason.',
  public: true,
  data: Struct({
    deviceId: AggregateId,
    requestId: AggregateId,
    reason: CertificateRejectionReason,
    detail: Type.Optional(Text(512)),
  }),
});

/**
 * The CA asked a device for a CSR (a `csr-request` in its inbox, CertifyDevices), recorded before
 * the request leaves, on the request's own subject (`ca.csr-request.<requestId>`): the device is
 * owed a certificate for `requestId` until the request is answered (CertificateIssued or
 * CertificateRejected with the same requestId, on `ca.device.<deviceId>`), expires
 * (CsrRequestExpired) or the device is revoked. Asking again (the same requestId, with backoff)
 * records nothing more. A CA instance that restarts resumes the requests still pending.
 */
export const CsrRequested = defineEvent({
  type: 'CsrRequested',
  version: 1,
  context: 'ca',
  aggregate: 'csr-request',
  summary: 'The CA asked a device for a CSR; the request is pending until answered, expired or the device revoked.',
  data: Struct({
    deviceId: AggregateId,
    requestId: AggregateId,
    /** Which device key is to be certified. */
    keyId: DeviceKeyId,
    /** Unanswered by then, the request is given up (CsrRequestExpired). */
    expiresAt: IsoTimestamp,
  }),
});

/**
 * Internal to the CA. CertifyDevices accepted: the devices it will ask for a CSR, recorded on
 * `ca.certification.<commandId>` before the command is answered (one event per 1,000 devices), so
 * the devices not asked yet are owed a request in the log, not only in the memory of the instance
 * that answered: an instance that starts, or a survivor, asks them (requestId derived from the
 * command id and the device, so nothing is asked or issued twice).
 */
export const CsrRequestsQueued = defineEvent({
  type: 'CsrRequestsQueued',
  version: 1,
  context: 'ca',
  aggregate: 'certification',
  summary: 'CertifyDevices accepted: these devices are owed a CSR request, asked as the window has room.',
  data: Struct({
    /** The CertifyDevices command: each device's requestId derives from it. */
    commandId: AggregateId,
    keyId: DeviceKeyId,
    deviceIds: Type.Array(AggregateId, { minItems: 1, maxItems: 1000 }),
  }),
});

/** A pending CsrRequested was given up unanswered: the device stays uncertified (certify it again to retry). */
export const CsrRequestExpired = defineEvent({
  type: 'CsrRequestExpired',
  version: 1,
  context: 'ca',
  aggregate: 'csr-request',
  summary: 'A device did not answer a CSR request before it expired; the CA gave the request up.',
  data: Struct({
    deviceId: AggregateId,
    requestId: AggregateId,
    /** How often the instance that gave it up had asked the device (absent: it had not tracked it). */
    asks: Type.Optional(Counter),
  }),
});

export const CertificateRevoked = defineEvent({
  type: 'CertificateRevoked',
  version: 1,
  context: 'ca',
  aggregate: 'device',
  summary: "The CA revoked one of a device's certificates; the next CRL lists it.",
  public: true,
  data: Struct({
    deviceId: AggregateId,
    authorityId: AggregateId,
    serialNumber: SerialHex,
    reason: RevocationReason,
    revokedAt: IsoTimestamp,
    revocationId: AggregateId,
  }),
});

/**
 * The CA certifies a device no more: written on the device's stream (`ca.device.<deviceId>`) when a
 * revocation reaches the CA, in the same append as (and before) the CertificateRevoked of every
 * certificate issued up to it. Issuance appends to the same stream under optimistic concurrency, so
 * a certificate racing the revocation either lands before it (and is revoked with it) or is refused.
 */
export const CertificationRevoked = defineEvent({
  type: 'CertificationRevoked',
  version: 1,
  context: 'ca',
  aggregate: 'device',
  summary: 'The CA refuses every further certificate for a device: a revocation reached it.',
  data: Struct({
    deviceId: AggregateId,
    revocationId: AggregateId,
    reason: RevocationReason,
    revokedAt: IsoTimestamp,
  }),
});

export const CrlPublished = defineEvent({
  type: 'CrlPublished',
  version: 1,
  context: 'ca',
  aggregate: 'crl',
  summary: 'An authority published a new CRL (aggregate id = authority id); targets reload it.',
  public: true,
  data: Struct({
    authorityId: AggregateId,
    /** Strictly increasing per authority (RFC 5280 cRLNumber). */
    crlNumber: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    issuer: DistinguishedName,
    thisUpdate: IsoTimestamp,
    nextUpdate: IsoTimestamp,
    /** Where the CA serves it over HTTP (the CRL distribution point). */
    url: HttpUrl,
    revokedCount: Counter,
    /** SHA-256 of the CRL DER, to check what a target downloaded. */
    crlDigest: Sha256Hex,
  }),
});

/**
 * The CA's answer to a RevocationRequested (aggregate id = revocation id): every certificate of the
 * revocation's devices is revoked and every CRL that lists them is published. The revocation saga
 * waits for it, because devices without a new CRL entry (never certified, or revoked before)
 * produce no CertificateRevoked and a CrlPublished names no revocation.
 */
export const RevocationApplied = defineEvent({
  type: 'RevocationApplied',
  version: 1,
  context: 'ca',
  aggregate: 'revocation',
  summary: "The CA revoked every certificate of a revocation's devices and published the CRLs listing them.",
  data: Struct({
    revocationId: AggregateId,
    devices: Counter,
    /** Certificates this revocation added to a CRL. */
    certificatesRevoked: Counter,
    /** Devices with nothing left to revoke (revoked before, or never certified): no second CRL entry. */
    alreadyRevoked: Counter,
    /** One per authority whose CRL now lists this revocation's certificates. */
    crls: Type.Array(
      Struct({
        authorityId: AggregateId,
        crlNumber: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
        crlDigest: Sha256Hex,
      }),
      { maxItems: 256 },
    ),
  }),
});
