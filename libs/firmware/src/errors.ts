/**
 * Typed errors of the firmware library: a stable `code`, a `name`, an optional `cause` and
 * context. Context never carries key material, content keys or image bytes: only sizes, indexes,
 * versions and labels.
 */
import { TypedError } from '@tunnelkey/errors';

export abstract class FirmwareError extends TypedError {}

/** Metadata, a delegation, a wrapped key or an encryption header is not in the expected shape. */
export class FirmwareFormatError extends FirmwareError {
  override readonly name = 'FirmwareFormatError';
  readonly code = 'FIRMWARE_FORMAT';
}

/** A signing key or a device public key is unusable (wrong length, wrong curve, not a key). */
export class FirmwareKeyError extends FirmwareError {
  override readonly name = 'FirmwareKeyError';
  readonly code = 'FIRMWARE_KEY';
}

/** A wrapped content key or an image chunk did not authenticate: wrong device, tampered or truncated. */
export class FirmwareDecryptionError extends FirmwareError {
  override readonly name = 'FirmwareDecryptionError';
  readonly code = 'FIRMWARE_DECRYPTION';
}

export const isFirmwareError = (e: unknown): e is FirmwareError => e instanceof FirmwareError;
export const isFirmwareDecryptionError = (e: unknown): e is FirmwareDecryptionError =>
  e instanceof FirmwareDecryptionError;
