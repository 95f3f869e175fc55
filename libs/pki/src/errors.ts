/**
 * Typed errors of the PKI library. Each has a stable `code`, its own `name`, an optional `cause`
 * and key/value context. Messages and context never carry key material: they are logged and
 * may travel in rejection events.
 */
import { TypedError, type ErrorContext } from '@tunnelkey/errors';
export type PkiErrorContext = ErrorContext;

export abstract class PkiError extends TypedError {}

/** A caller passed an argument the library refuses (bad date range, empty name, bad URL...). */
export class InvalidPkiInputError extends PkiError {
  override readonly name = 'InvalidPkiInputError';
  readonly code = 'PKI_INVALID_INPUT';
}

/** Bytes or PEM text that do not decode to the expected structure (truncated, wrong type, oversized). */
export class MalformedPkiObjectError extends PkiError {
  override readonly name = 'MalformedPkiObjectError';
  readonly code = 'PKI_MALFORMED';
}

/** An algorithm, curve or key type outside our profile (we issue and accept ECDSA P-256 only). */
export class UnsupportedAlgorithmError extends PkiError {
  override readonly name = 'UnsupportedAlgorithmError';
  readonly code = 'PKI_UNSUPPORTED_ALGORITHM';
}

/** A signature (CSR self-signature, certificate, CRL) does not verify. */
export class SignatureVerificationError extends PkiError {
  override readonly name = 'SignatureVerificationError';
  readonly code = 'PKI_BAD_SIGNATURE';
}

export type ChainFailureReason =
  | 'EMPTY_CHAIN'
  | 'ISSUER_MISMATCH'
  | 'AKI_MISMATCH'
  | 'BAD_SIGNATURE'
  | 'NOT_YET_VALID'
  | 'EXPIRED'
  | 'NOT_A_CA'
  | 'KEY_USAGE'
  | 'PATH_LENGTH'
  | 'EXTENDED_KEY_USAGE'
  | 'UNKNOWN_CRITICAL_EXTENSION'
  | 'ROOT_NOT_SELF_SIGNED'
  | 'REVOKED'
  | 'STALE_CRL'
  | 'BAD_CRL';

/** A certificate chain failed one of our checks; `reason` says which, `context.depth` where (0 = leaf). */
export class ChainVerificationError extends PkiError {
  override readonly name = 'ChainVerificationError';
  readonly code = 'PKI_CHAIN_INVALID';
  constructor(
    readonly reason: ChainFailureReason,
    message: string,
    context: PkiErrorContext = {},
    options?: { cause?: unknown },
  ) {
    super(message, { ...context, reason }, options);
  }
}

/** The signer port failed (HSM/KMS down, key missing). The cause is kept; the message stays generic. */
export class SignerError extends PkiError {
  override readonly name = 'SignerError';
  readonly code = 'PKI_SIGNER_FAILED';
}

/** The key-encryption key is missing, malformed, ambiguous or too weak. */
export class KekError extends PkiError {
  override readonly name = 'KekError';
  readonly code = 'PKI_KEK_INVALID';
}

export type KeyUnwrapFailure =
  | 'MALFORMED'
  | 'UNSUPPORTED_VERSION'
  | 'KEK_MISMATCH'
  | 'AUTHENTICATION_FAILED'
  | 'BAD_KEY';

/** A wrapped CA key could not be opened: wrong KEK, wrong CA id, tampered or foreign blob. */
export class KeyUnwrapError extends PkiError {
  override readonly name = 'KeyUnwrapError';
  readonly code = 'PKI_KEY_UNWRAP_FAILED';
  constructor(
    readonly reason: KeyUnwrapFailure,
    message: string,
    context: PkiErrorContext = {},
    options?: { cause?: unknown },
  ) {
    super(message, { ...context, reason }, options);
  }
}

export const isPkiError = (e: unknown): e is PkiError => e instanceof PkiError;
export const isChainVerificationError = (e: unknown): e is ChainVerificationError =>
  e instanceof ChainVerificationError;
export const isSignatureVerificationError = (e: unknown): e is SignatureVerificationError =>
  e instanceof SignatureVerificationError;
export const isKeyUnwrapError = (e: unknown): e is KeyUnwrapError => e instanceof KeyUnwrapError;
export const isKekError = (e: unknown): e is KekError => e instanceof KekError;
