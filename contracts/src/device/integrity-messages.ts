import { Type } from '@sinclair/typebox';
import { FirmwareVersion, Sha256Hex, Struct } from '../primitives.js';
import { defineDeviceMessage } from './define-device-message.js';

/**
 * Integrity monitoring: every heartbeat period (its policy's, sent with the connection parameters)
 * a device reports what it booted. The envelope's counter is the heartbeat counter the platform
 * checks (it never goes back on one device); signed by the enrolment key, which only the device's
 * silicon can derive.
 */
export const HeartbeatMessage = defineDeviceMessage({
  kind: 'heartbeat',
  direction: 'uplink',
  signedWith: 'enrolment',
  summary: 'A device reports its boot measurement (SHA-256 of the image it runs) and how long it has been up.',
  body: Struct({
    firmwareMeasurement: Sha256Hex,
    firmwareVersion: Type.Optional(FirmwareVersion),
    uptimeSeconds: Type.Integer({ minimum: 0, maximum: 100 * 365 * 86_400 }),
  }),
});

/**
 * The MQTT topic a quarantined device may still publish to at its brokers (everything else is
 * refused): a device whose telemetry is refused reports there, and the operator reads it.
 */
export const quarantineTopic = (deviceId: string): string => `tunnelkey/quarantine/${deviceId}`;
