/**
 * Typed errors of the device fleet: a stable `code`, a `name`, an optional `cause` and context.
 * Context never carries secrets (no helper-data bytes, no key material): only ids, kinds, sizes.
 */
import { TypedError, type ErrorContext } from '@tunnelkey/errors';
export type FleetErrorContext = ErrorContext;

export abstract class FleetError extends TypedError {}

/** The PUF could not give the device its key (tampered/corrupted helper data, silicon out of spec). */
export class DeviceKeyUnavailableError extends FleetError {
  override readonly name = 'DeviceKeyUnavailableError';
  readonly code = 'DEVICE_KEY_UNAVAILABLE';
}

/** A flash record that does not parse (wrong version, missing or malformed fields). */
export class FlashRecordFormatError extends FleetError {
  override readonly name = 'FlashRecordFormatError';
  readonly code = 'FLASH_RECORD_FORMAT';
}

/** A fleet or CLI option out of range. */
export class InvalidFleetOptionError extends FleetError {
  override readonly name = 'InvalidFleetOptionError';
  readonly code = 'INVALID_FLEET_OPTION';
}

/** The platform public key devices pin could not be loaded. */
export class PlatformPublicKeyError extends FleetError {
  override readonly name = 'PlatformPublicKeyError';
  readonly code = 'PLATFORM_PUBLIC_KEY';
}

export const isFleetError = (e: unknown): e is FleetError => e instanceof FleetError;
export const isDeviceKeyUnavailableError = (e: unknown): e is DeviceKeyUnavailableError =>
  e instanceof DeviceKeyUnavailableError;

/** A device asked to connect to a target without what it needs (connection parameters, a TLS certificate). */
export class DeviceNotConnectableError extends FleetError {
  override readonly name = 'DeviceNotConnectableError';
  readonly code = 'DEVICE_NOT_CONNECTABLE';
}

/** The simulated devices' hardware threads could not run a job (not built, crashed, closed). */
export class DeviceHardwareError extends FleetError {
  override readonly name = 'DeviceHardwareError';
  readonly code = 'DEVICE_HARDWARE';
}

/** The device refuses to acknowledge a custody statement that is not about it, or not about its next owner epoch. */
export class TransferNotAcknowledgedError extends FleetError {
  override readonly name = 'TransferNotAcknowledgedError';
  readonly code = 'TRANSFER_NOT_ACKNOWLEDGED';
}
