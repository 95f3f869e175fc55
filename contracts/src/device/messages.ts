import { Type } from '@sinclair/typebox';
import { AggregateId, IsoTimestamp } from '../envelope.js';
import { ClientId, Host, Port, TopicPrefix } from '../events/onboarding.events.js';
import {
  CertificateChainPem,
  CertificatePem,
  CsrDerBase64,
  DeviceKeyId,
  EcdsaP256Signature,
  FirmwareVersion,
  Nonce,
  OneOf,
  PufProfile,
  ReasonCode,
  SerialHex,
  Sha256Hex,
  SpkiDerBase64,
  Struct,
  Text,
  TlsKeyId,
} from '../primitives.js';
import { defineDeviceMessage } from './define-device-message.js';
import { messageKindPattern } from './subjects.js';

// The OTA messages (firmware keys, offers, chunks, boot reports) live in their own file.
export * from './ota-messages.js';

// ---- device -> platform (uplink) ----

export const AnnounceMessage = defineDeviceMessage({
  kind: 'announce',
  direction: 'uplink',
  signedWith: 'enrolment',
  summary: "A device says it exists: its enrolment public key (its id is that key's digest) and firmware measurement.",
  body: Struct({
    enrolmentPublicKey: SpkiDerBase64,
    firmwareMeasurement: Sha256Hex,
    firmwareVersion: Type.Optional(FirmwareVersion),
    pufProfile: Type.Optional(PufProfile),
  }),
});

/** A manufacturer key's signature over `manufacturerAttestationBytes({ enrolmentPublicKey })`, made at the factory. */
export const ManufacturerAttestation = Struct({
  /** The manufacturer key registered with the batch (RegisterManufacturerKey). */
  keyId: AggregateId,
  signature: EcdsaP256Signature,
});

export const EnrolmentKeyReportMessage = defineDeviceMessage({
  kind: 'enrolment-key-report',
  direction: 'uplink',
  signedWith: 'enrolment',
  summary:
    'A device answers an enrolment-key request with its enrolment public key, and its manufacturer attestation when it carries one.',
  body: Struct({
    requestId: AggregateId,
    enrolmentPublicKey: SpkiDerBase64,
    firmwareMeasurement: Sha256Hex,
    manufacturerAttestation: Type.Optional(ManufacturerAttestation),
  }),
});

export const IdentityResponseMessage = defineDeviceMessage({
  kind: 'identity-response',
  direction: 'uplink',
  signedWith: 'enrolment',
  summary: "A device echoes the challenge; the envelope's enrolment-key signature over it is the proof.",
  body: Struct({
    challengeId: AggregateId,
    nonce: Nonce,
    firmwareMeasurement: Type.Optional(Sha256Hex),
  }),
});

/** The enrolment key vouches for a TLS key: signature over `keyAttestationBytes({deviceId, keyId, publicKey})`. */
export const KeyAttestation = Struct({
  keyId: TlsKeyId,
  publicKey: SpkiDerBase64,
  signature: EcdsaP256Signature,
});

export const CsrMessage = defineDeviceMessage({
  kind: 'csr',
  direction: 'uplink',
  summary:
    'A device asks for a certificate: a PKCS#10 CSR (DER, at most 16 KiB), with a key attestation when the key is a TLS key.',
  body: Struct({
    /** Echoed from a csr-request, or chosen by the device; a retry with the same id gets the same certificate. */
    requestId: AggregateId,
    keyId: DeviceKeyId,
    csr: CsrDerBase64,
    keyAttestation: Type.Optional(KeyAttestation),
  }),
});

// ---- platform -> device (downlink, the device's inbox) ----

export const EnrolmentKeyRequestMessage = defineDeviceMessage({
  kind: 'enrolment-key-request',
  direction: 'downlink',
  summary: 'The platform asks a device to report its enrolment public key.',
  body: Struct({ requestId: AggregateId, expiresAt: IsoTimestamp }),
});

export const IdentityChallengeMessage = defineDeviceMessage({
  kind: 'identity-challenge',
  direction: 'downlink',
  summary: 'The platform sends a fresh nonce for the device to sign with its enrolment key.',
  body: Struct({ challengeId: AggregateId, nonce: Nonce, expiresAt: IsoTimestamp }),
});

export const CsrRequestMessage = defineDeviceMessage({
  kind: 'csr-request',
  direction: 'downlink',
  summary: 'The platform asks a device for a CSR for one of its keys.',
  body: Struct({ requestId: AggregateId, keyId: DeviceKeyId }),
});

export const CertificateMessage = defineDeviceMessage({
  kind: 'certificate',
  direction: 'downlink',
  summary: 'The platform delivers an issued certificate and its chain.',
  body: Struct({
    requestId: AggregateId,
    serialNumber: SerialHex,
    certificatePem: CertificatePem,
    chainPem: CertificateChainPem,
  }),
});

export const ConnectionParametersMessage = defineDeviceMessage({
  kind: 'connection-parameters',
  direction: 'downlink',
  summary: 'Where and as whom a device connects once onboarded to a target.',
  body: Struct({
    targetId: AggregateId,
    endpoint: Struct({ protocol: OneOf(['mqtts']), host: Host, port: Port }),
    clientId: ClientId,
    /** The device may publish and subscribe only under this prefix. */
    topicPrefix: TopicPrefix,
    /** Trust anchor for the target's server certificate, when it is not a public CA. */
    serverCaPem: Type.Optional(CertificatePem),
    /** The device's client certificate for this target (its TLS key, issued by the target's CA). */
    clientCertificatePem: Type.Optional(CertificatePem),
  }),
});

export const RejectionMessage = defineDeviceMessage({
  kind: 'rejection',
  direction: 'downlink',
  summary: 'The platform refused a device message, saying which one and why.',
  body: Struct({
    inReplyTo: Struct({
      kind: Type.String({ pattern: messageKindPattern }),
      counter: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    }),
    code: ReasonCode,
    message: Type.Optional(Text(500)),
  }),
});
