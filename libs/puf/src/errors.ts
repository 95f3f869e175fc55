/**
 * Typed errors of the PUF library: a stable `code`, a `name`, an optional `cause` and context.
 * Context never carries secrets (no response bits, root secrets, scalars): only sizes, versions, labels.
 */
import { TypedError, type ErrorContext } from '@tunnelkey/errors';
export type PufErrorContext = ErrorContext;

export abstract class PufError extends TypedError {}

/** The error-correcting code could not decode: too many bit errors for the code (detected). */
export class KeyReconstructionError extends PufError {
  override readonly name = 'KeyReconstructionError';
  readonly code = 'PUF_RECONSTRUCTION_FAILED';
}

/**
 * The decoded secret does not match the key-check value: either the decoder settled on a wrong
 * codeword or the helper data was tampered with. Never silently yields another key.
 */
export class KeyCheckMismatchError extends PufError {
  override readonly name = 'KeyCheckMismatchError';
  readonly code = 'PUF_KEY_CHECK_MISMATCH';
}

/** Helper data could not be parsed (wrong magic, version, lengths, encoding). */
export class HelperDataFormatError extends PufError {
  override readonly name = 'HelperDataFormatError';
  readonly code = 'PUF_HELPER_DATA_FORMAT';
}

/** A model, code or context parameter is out of its valid range. */
export class InvalidPufParameterError extends PufError {
  override readonly name = 'InvalidPufParameterError';
  readonly code = 'PUF_INVALID_PARAMETER';
}

export const isPufError = (e: unknown): e is PufError => e instanceof PufError;
export const isKeyReconstructionError = (e: unknown): e is KeyReconstructionError =>
  e instanceof KeyReconstructionError;
export const isKeyCheckMismatchError = (e: unknown): e is KeyCheckMismatchError => e instanceof KeyCheckMismatchError;
export const isHelperDataFormatError = (e: unknown): e is HelperDataFormatError => e instanceof HelperDataFormatError;
