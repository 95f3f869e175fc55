/**
 * Injection tokens of the OTA service's own ports and settings. The event store (EVENT_STORE) and
 * the readiness registry come from @tunnelkey/messaging's platform module.
 */
import type { DeviceBodyOf, DeviceMessageDefinition } from '@tunnelkey/contracts';

export const OTA_CONFIG = Symbol('OTA_CONFIG');
export const OTA_LOGGER = Symbol('OTA_LOGGER');
/** `() => Date`: decisions take their time from it (tests pin it). */
export const CLOCK = Symbol('CLOCK');
/** Resolves once the streams OTA reads and writes exist (views wait for it). */
export const OTA_STREAMS = Symbol('OTA_STREAMS');
/** The OTA KEK (`Kek` of @tunnelkey/pki): the signing keys and each rollout's content key are derived under it. */
export const OTA_KEK = Symbol('OTA_KEK');
/** The platform key (`PlatformKey` of @tunnelkey/device-protocol): it signs downlinks and the signing-key delegation. */
export const PLATFORM_KEY = Symbol('PLATFORM_KEY');
/** ImageStore: the images and the per-rollout encrypted images (JetStream object store, or in memory). */
export const IMAGE_STORE = Symbol('IMAGE_STORE');
/** DownlinkSender: signed messages to a device (offers, key requests) and firmware-chunk frames. */
export const DOWNLINKS = Symbol('DOWNLINKS');

/** The downlink port: DownlinkPublisher on NATS, or a recorder in tests. */
export interface DownlinkSender {
  send<M extends DeviceMessageDefinition>(definition: M, deviceId: string, body: DeviceBodyOf<M>): Promise<void>;
  /**
   * An unsigned binary firmware-chunk frame (contracts' firmware-chunk-frame.ts) to a device's
   * inbox. Resolves when the bus can take more (the sender applies backpressure).
   */
  sendChunkFrame(deviceId: string, frame: Uint8Array): Promise<void>;
}

export type Clock = () => Date;
