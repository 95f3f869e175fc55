import { firmwareMeasurement } from '../simulated-device/firmware-image.js';
import type { SimulatedDevice } from '../simulated-device/simulated-device.js';

/**
 * The identity file a manufacturer hands the operator: one row per device, in the shape of the
 * registry's ImportIdentities rows (device id, enrolment public key as base64 SPKI DER, metadata).
 * The measurement is the released image's: what the device ought to report.
 */
export interface IdentityRow {
  deviceId: string;
  enrolmentPublicKey: string;
  metadata: { firmwareVersion: string; firmwareMeasurement: string; pufProfile: string };
}

export function identityRow(device: SimulatedDevice): IdentityRow {
  const { flash } = device;
  return {
    deviceId: flash.deviceId,
    enrolmentPublicKey: Buffer.from(flash.enrolmentPublicKey).toString('base64'),
    metadata: {
      firmwareVersion: flash.firmware.version,
      firmwareMeasurement: firmwareMeasurement(flash.firmware.version),
      pufProfile: flash.pufProfile,
    },
  };
}

const csvColumns = ['deviceId', 'enrolmentPublicKey', 'firmwareVersion', 'firmwareMeasurement', 'pufProfile'] as const;

/** JSON (an array of rows) or CSV (a header line, then deviceId, enrolmentPublicKey and metadata columns). */
export function identityFile(devices: Iterable<SimulatedDevice>, format: 'json' | 'csv'): string {
  const rows = [...devices].map(identityRow);
  if (format === 'json') return `${JSON.stringify(rows, null, 1)}\n`;
  // No field can contain a comma or quote (ids, base64, hex, version pattern), so no quoting is needed.
  const lines = rows.map((r) =>
    [
      r.deviceId,
      r.enrolmentPublicKey,
      r.metadata.firmwareVersion,
      r.metadata.firmwareMeasurement,
      r.metadata.pufProfile,
    ].join(','),
  );
  return `${[csvColumns.join(','), ...lines].join('\n')}\n`;
}
