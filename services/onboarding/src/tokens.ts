/**
 * Injection tokens of onboarding's own ports and settings. The event store (EVENT_STORE) and the
 * readiness registry come from @tunnelkey/messaging's platform module.
 */
import type { DeviceBodyOf, DeviceMessageDefinition } from '@tunnelkey/contracts';

export const ONBOARDING_CONFIG = Symbol('ONBOARDING_CONFIG');
export const ONBOARDING_LOGGER = Symbol('ONBOARDING_LOGGER');
/** `() => Date`: decisions take their time from it (tests pin it). */
export const CLOCK = Symbol('CLOCK');
/** Resolves once the streams onboarding reads and writes exist (views wait for it). */
export const ONBOARDING_STREAMS = Symbol('ONBOARDING_STREAMS');
/** The event store's SnapshotStore, for the target and device aggregates. */
export const SNAPSHOT_STORE = Symbol('SNAPSHOT_STORE');
/** TargetConnector: opens an OnboardingTarget (the Mosquitto adapter, or an in-memory double). */
export const TARGET_CONNECTOR = Symbol('TARGET_CONNECTOR');
/** TargetCredentialStore: how to reach each target's admin API (a reference to its secret, never the secret). */
export const TARGET_CREDENTIALS = Symbol('TARGET_CREDENTIALS');
/** TargetSecrets: admin passwords by file name (the mounted secrets directory). */
export const TARGET_SECRETS = Symbol('TARGET_SECRETS');
/** The onboarding KEK (`Kek` of @tunnelkey/pki): each target's CA key is derived under it. */
export const ONBOARDING_KEK = Symbol('ONBOARDING_KEK');
/** DownlinkSender: signed messages to a device (its connection parameters). */
export const DOWNLINKS = Symbol('DOWNLINKS');
/** `(targetId) => string | undefined`: the CA of a target's server certificate, sent to devices. */
export const SERVER_CA_PEM = Symbol('SERVER_CA_PEM');

/** The downlink port: DownlinkPublisher on NATS, or a recorder in tests. */
export interface DownlinkSender {
  send<M extends DeviceMessageDefinition>(definition: M, deviceId: string, body: DeviceBodyOf<M>): Promise<void>;
}

export type Clock = () => Date;
export type ServerCaPem = (targetId: string) => string | undefined;
