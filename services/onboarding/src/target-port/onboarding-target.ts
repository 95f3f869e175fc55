/**
 * The port every kind of onboarding target implements (Mosquitto first; AWS IoT Core and Azure
 * IoT Hub later). The service decides what a device may do and when; a target only applies it
 * and reports what it sees. A target trusts one CA of its own (docs/decisions/0001): onboarding a
 * device is issuing it a certificate under that CA, so a target needs no work per device to admit
 * one, only to cut one off (its session dropped; its certificate on the CRL refuses the reconnect).
 */
import type { TopicRightSpec } from './topic-plan.js';

export interface TrustAnchor {
  /** The CA whose device certificates the target must accept: the target's own. */
  authorityId: string;
  /** Its certificate (self-signed, PEM). */
  chainPem: readonly string[];
}

export interface RevocationList {
  authorityId: string;
  crlNumber: number;
  /** PEM (`-----BEGIN X509 CRL-----`). */
  crlPem: string;
}

/** The complete trust a target must enforce: it replaces what was there before. */
export interface TargetTrust {
  anchors: readonly TrustAnchor[];
  crls: readonly RevocationList[];
  /**
   * Every topic right the target grants, `{deviceId}` not substituted: the union of the rights of
   * the policies onboarded to it. A device gets them under its own id only.
   */
  topicRights: readonly TopicRightSpec[];
}

export interface DeviceRegistration {
  deviceId: string;
  /** The server policy's rights, `{deviceId}` not yet substituted. */
  topicRights: readonly TopicRightSpec[];
}

export interface RegisteredDevice {
  deviceId: string;
  clientId: string;
  /** What grants the device's rights at the target (a pattern set, a cloud policy). */
  roleName: string;
  topicPrefix: string;
}

export type DeviceOperationOutcome<T = { deviceId: string }> =
  | ({ ok: true } & T)
  | { ok: false; deviceId: string; reason: 'target-unreachable' | 'target-refused'; detail: string };

export interface ConnectionParameters {
  endpoint: { protocol: 'mqtts'; host: string; port: number };
  clientId: string;
  topicPrefix: string;
}

export type DisconnectReason =
  | 'client-closed'
  | 'keepalive-timeout'
  | 'client-disabled'
  | 'session-taken-over'
  | 'target-stopped'
  | 'unknown';

/** What a target saw; the service turns it into events (never one event per telemetry message). */
export type TargetObservation =
  | { kind: 'connected'; clientId: string; at: Date; tlsProtocol: 'TLSv1.2' | 'TLSv1.3' | 'unknown'; cipher: string }
  | { kind: 'disconnected'; clientId: string; at: Date; reason: DisconnectReason }
  | { kind: 'telemetry'; deviceId: string; topic: string; bytes: number; at: Date }
  /**
   * Every client connected to the target now (sent every few seconds by a target that can tell):
   * what a lost connection or disconnection observation left wrong is put right from it.
   * `reportId` is the target's own, the same for every instance that hears the report.
   */
  | { kind: 'present'; clientIds: ReadonlySet<string>; reportId: string; at: Date };

export interface TargetWatch {
  stop(): Promise<void>;
}

export interface OnboardingTarget {
  readonly targetId: string;
  readonly kind: 'mosquitto' | 'aws-iot-core' | 'azure-iot-hub';
  /** Installs the anchor, CRL and topic rights and makes the target enforce them (e.g. a broker reload). */
  applyTrust(trust: TargetTrust): Promise<void>;
  /**
   * Where each device will live on the target (client id, topic prefix); a target that needs an
   * account per device creates it here. One outcome per device, in order.
   */
  registerDevices(devices: readonly DeviceRegistration[]): Promise<DeviceOperationOutcome<RegisteredDevice>[]>;
  /** Drops the devices' live connections (revocation, transfer); their certificates are on the CRL already. */
  disableDevices(deviceIds: readonly string[]): Promise<DeviceOperationOutcome[]>;
  /** Restricts the devices to their quarantine topic (topic-plan's quarantineTopic); their sessions stay up. */
  quarantineDevices(deviceIds: readonly string[]): Promise<DeviceOperationOutcome[]>;
  /** Gives quarantined devices their policy's rights back, sessions still up. */
  releaseDevices(deviceIds: readonly string[]): Promise<DeviceOperationOutcome[]>;
  /** Where and as whom a registered device connects. */
  connectionParameters(device: RegisteredDevice): ConnectionParameters;
  /**
   * Reports connections, disconnections and telemetry of the devices the target knows. `telemetryTopics`
   * are the policies' publish topics with `{deviceId}` in them; more can be added while watching.
   */
  watch(observer: (observation: TargetObservation) => void): Promise<TargetWatch>;
  /** Telemetry topics (policy topic rights) to observe from now on. */
  observeTopics(topicRights: readonly TopicRightSpec[]): Promise<void>;
  close(): Promise<void>;
}

/** What a target is registered with (from TargetRegistered), enough to reach it. */
export interface TargetAddress {
  targetId: string;
  kind: OnboardingTarget['kind'];
  host: string;
  tlsPort: number;
}

/** Admin credentials of a target, the password read from its secret file just for the connection. */
export interface TargetAdminCredentials {
  username: string;
  password: string;
  /** Admin listener host when it differs from the device host. */
  host?: string;
  /** Admin listener port when it differs from the device listener. */
  port?: number;
  /** MQTT over TLS to the admin listener, its server certificate verified against this CA. */
  tls?: { caPem: string };
}

/** Opens a connection to a target's admin side; refuses (throws) when the target refuses the credentials. */
export interface TargetConnector {
  connect(address: TargetAddress, credentials: TargetAdminCredentials): Promise<OnboardingTarget>;
}
