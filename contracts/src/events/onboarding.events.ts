import { Type } from '@sinclair/typebox';
import { defineEvent } from '../define-event.js';
import { AggregateId, IsoTimestamp } from '../envelope.js';
import { CertificatePem, Counter, OneOf, SerialHex, Sha256Hex, Struct, Text } from '../primitives.js';

export const targetKinds = ['mosquitto', 'aws-iot-core', 'azure-iot-hub'] as const;
export const TargetKind = OneOf(targetKinds);

/** A DNS name or IP literal; no scheme, no port. */
export const Host = Type.String({
  pattern:
    '^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$|^\\[[0-9A-Fa-f:.]{2,45}\\]$',
  maxLength: 253,
});
export const Port = Type.Integer({ minimum: 1, maximum: 65535 });

/** MQTT topic prefix a device owns, e.g. `devices/d-7f3a`: no wildcards, no leading `$`. */
export const TopicPrefix = Type.String({ pattern: '^[A-Za-z0-9_-][A-Za-z0-9_./-]{0,199}$' });
/** MQTT client id; with `use_identity_as_username` it is the device id. */
export const ClientId = Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,128}$' });

// v1 (without an owner) is in target-registered.v1.ts: stored v1 events upcast to the default owner.
export const TargetRegistered = defineEvent({
  type: 'TargetRegistered',
  version: 2,
  context: 'onboarding',
  aggregate: 'target',
  summary:
    'An operator registered an onboarding target (e.g. a Mosquitto broker). Admin credentials are kept by the onboarding service, never in the log.',
  public: true,
  data: Struct({
    targetId: AggregateId,
    kind: TargetKind,
    name: Text(200),
    host: Host,
    tlsPort: Port,
    /** Name the admin credentials are stored under; the secret itself never enters an event. */
    credentialsRef: AggregateId,
    /** The owner (tenant) the target belongs to: only its policies may name it. */
    ownerId: AggregateId,
  }),
});

export const TargetTrustAnchorInstalled = defineEvent({
  type: 'TargetTrustAnchorInstalled',
  version: 1,
  context: 'onboarding',
  aggregate: 'target',
  summary:
    "A CA was installed on a target as the trust anchor for devices' client certificates: the target's own CA, which issues its devices' target certificates.",
  public: true,
  data: Struct({
    targetId: AggregateId,
    authorityId: AggregateId,
    fingerprintSha256: Sha256Hex,
    /** The anchor's certificate (public), so every instance and restart installs the same one. */
    certificatePem: Type.Optional(CertificatePem),
  }),
});

export const TargetCrlUpdated = defineEvent({
  type: 'TargetCrlUpdated',
  version: 1,
  context: 'onboarding',
  aggregate: 'target',
  summary:
    "A target now enforces a CRL (installed and reloaded), so new handshakes with revoked certificates fail. Recorded for the target's own CA's CRL, and for each CA CRL whose revocations the target now enforces (authorityId and crlNumber of that CA CRL).",
  public: true,
  data: Struct({
    targetId: AggregateId,
    authorityId: AggregateId,
    crlNumber: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    crlDigest: Sha256Hex,
  }),
});

/**
 * Internal to onboarding. An onboarding run (OnboardBatch or OnboardDevice on one target) is
 * recorded before the command is answered, so an instance that starts after a crash finishes the
 * runs the log lists as not finished (same run id: nothing done twice).
 */
export const OnboardingRunStarted = defineEvent({
  type: 'OnboardingRunStarted',
  version: 1,
  context: 'onboarding',
  aggregate: 'target',
  summary: 'An onboarding run on a target was asked for: a batch, or one device of it (finished by any instance).',
  data: Struct({
    targetId: AggregateId,
    /** The command id of the OnboardBatch or OnboardDevice: every step of the run derives its id from it. */
    runId: AggregateId,
    batchId: AggregateId,
    policyId: AggregateId,
    /** OnboardDevice: the one device; absent: the batch's members. */
    deviceId: Type.Optional(AggregateId),
  }),
});

/** Internal to onboarding: the run went through every device (onboarded or failed). */
export const OnboardingRunFinished = defineEvent({
  type: 'OnboardingRunFinished',
  version: 1,
  context: 'onboarding',
  aggregate: 'target',
  summary: 'An onboarding run on a target went through every device: how many were onboarded and failed.',
  data: Struct({
    targetId: AggregateId,
    runId: AggregateId,
    onboarded: Counter,
    failed: Counter,
  }),
});

export const DeviceOnboarded = defineEvent({
  type: 'DeviceOnboarded',
  version: 1,
  context: 'onboarding',
  aggregate: 'device',
  summary:
    "A target now admits a device: it was issued a target certificate by the target's CA, and the target grants its server policy's rights under the device's own id.",
  public: true,
  data: Struct({
    deviceId: AggregateId,
    targetId: AggregateId,
    batchId: AggregateId,
    policyId: AggregateId,
    clientId: ClientId,
    /** What grants the policy's topic rights at the target (an acl_file pattern set, or a cloud policy). */
    roleName: AggregateId,
    topicPrefix: TopicPrefix,
    /** The device's certificate for this target, issued by the target's CA (the broker trusts nothing else). */
    certificate: Type.Optional(
      Struct({
        authorityId: AggregateId,
        serialNumber: SerialHex,
        fingerprintSha256: Sha256Hex,
        notAfter: IsoTimestamp,
        certificatePem: CertificatePem,
      }),
    ),
  }),
});

export const onboardingFailureReasons = [
  'target-unreachable',
  'target-refused',
  'device-not-certified',
  'device-revoked',
  'policy-has-no-target',
  'unknown-target',
] as const;

export const DeviceOnboardingFailed = defineEvent({
  type: 'DeviceOnboardingFailed',
  version: 1,
  context: 'onboarding',
  aggregate: 'device',
  summary: 'A device could not be onboarded to a target.',
  public: true,
  data: Struct({
    deviceId: AggregateId,
    targetId: AggregateId,
    reason: OneOf(onboardingFailureReasons),
    detail: Type.Optional(Text(512)),
  }),
});

export const DeviceDeprovisioned = defineEvent({
  type: 'DeviceDeprovisioned',
  version: 1,
  context: 'onboarding',
  aggregate: 'device',
  summary:
    "A device was cut off a target: its target certificate is on the target's CRL and its live connection was dropped.",
  public: true,
  data: Struct({
    deviceId: AggregateId,
    targetId: AggregateId,
    reason: OneOf(['revoked', 'ownership-transferred', 'operator']),
    revocationId: Type.Optional(AggregateId),
  }),
});

export const tlsProtocols = ['TLSv1.2', 'TLSv1.3', 'unknown'] as const;
/** IANA/OpenSSL cipher suite name, or `unknown` when the target does not report it. */
export const CipherSuite = Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$' });

/**
 * v2 adds the negotiated TLS protocol and cipher so operators can find devices on weak settings.
 * Stored v1 events are upcast with both set to `unknown` (see device-connected.v1.ts).
 */
export const DeviceConnected = defineEvent({
  type: 'DeviceConnected',
  version: 2,
  context: 'onboarding',
  aggregate: 'device',
  summary: 'A device connected to a target with mutual TLS (with the negotiated TLS protocol and cipher).',
  public: true,
  data: Struct({
    deviceId: AggregateId,
    targetId: AggregateId,
    clientId: ClientId,
    connectedAt: IsoTimestamp,
    tlsProtocol: OneOf(tlsProtocols),
    cipher: CipherSuite,
  }),
});

export const DeviceDisconnected = defineEvent({
  type: 'DeviceDisconnected',
  version: 1,
  context: 'onboarding',
  aggregate: 'device',
  summary: 'A device disconnected from a target, or was disconnected by it.',
  public: true,
  data: Struct({
    deviceId: AggregateId,
    targetId: AggregateId,
    clientId: ClientId,
    disconnectedAt: IsoTimestamp,
    reason: OneOf([
      'client-closed',
      'keepalive-timeout',
      'client-disabled',
      'session-taken-over',
      'target-stopped',
      'unknown',
    ]),
  }),
});

export const TelemetryReceived = defineEvent({
  type: 'TelemetryReceived',
  version: 1,
  context: 'onboarding',
  aggregate: 'device',
  summary:
    "A target delivered a device's telemetry: once for the first message, then periodic counters (never one event per message).",
  public: true,
  data: Struct({
    deviceId: AggregateId,
    targetId: AggregateId,
    kind: OneOf(['first', 'periodic']),
    /** Totals since the device was onboarded to this target. */
    messagesTotal: Counter,
    bytesTotal: Counter,
    /** Messages in this window (`windowStart`..`lastMessageAt`). */
    messagesInWindow: Counter,
    windowStart: IsoTimestamp,
    firstMessageAt: IsoTimestamp,
    lastMessageAt: IsoTimestamp,
    /** The topic of the last message, under the device's prefix. */
    lastTopic: Type.String({ minLength: 1, maxLength: 256, pattern: '^[^\\u0000#+]+$' }),
  }),
});
