/**
 * Typed errors of the onboarding service: a stable `code`, a `name`, an optional `cause`, and
 * key/value context that never carries a secret (admin credentials, keys): it is logged and may
 * end up in replies.
 */
import { TypedError, type ErrorContext } from '@tunnelkey/errors';
export type OnboardingErrorContext = ErrorContext;

export abstract class OnboardingError extends TypedError {}

/** An environment variable or a target binding is missing or malformed. */
export class OnboardingConfigError extends OnboardingError {
  override readonly name = 'OnboardingConfigError';
  readonly code = 'ONBOARDING_CONFIG';
}

/** The target (broker) could not be reached, or did not answer in time. */
export class TargetUnreachableError extends OnboardingError {
  override readonly name = 'TargetUnreachableError';
  readonly code = 'TARGET_UNREACHABLE';
}

/** A target's admin password file is missing, unreadable or empty (its name only, never its content). */
export class TargetSecretUnavailableError extends OnboardingError {
  override readonly name = 'TargetSecretUnavailableError';
  readonly code = 'TARGET_SECRET_UNAVAILABLE';
}

/** The target answered but refused an administrative command (e.g. a dynamic-security error). */
export class TargetRefusedError extends OnboardingError {
  override readonly name = 'TargetRefusedError';
  readonly code = 'TARGET_REFUSED';
}

/** A server policy grants a topic outside the device's own prefix: never applied to a broker. */
export class UnsafeTopicRightError extends OnboardingError {
  override readonly name = 'UnsafeTopicRightError';
  readonly code = 'UNSAFE_TOPIC_RIGHT';
}

/**
 * An operator command the service refuses; `reason` is the reply code. The name ends in
 * `Rejected` so the messaging layer passes code and message through to the operator.
 */
export class OnboardingCommandRejected extends OnboardingError {
  override readonly name = 'OnboardingCommandRejected';
  readonly code = 'REJECTED';
  constructor(
    readonly reason: string,
    message: string,
    context: OnboardingErrorContext = {},
  ) {
    super(message, context);
  }
}

export const isTargetUnreachable = (e: unknown): e is TargetUnreachableError => e instanceof TargetUnreachableError;
export const isTargetRefused = (e: unknown): e is TargetRefusedError => e instanceof TargetRefusedError;

/** A revocation's devices could not all be disabled yet (a target unreachable): the CA event is redelivered. */
export class DeprovisioningIncompleteError extends OnboardingError {
  override readonly name = 'DeprovisioningIncompleteError';
  readonly code = 'DEPROVISIONING_INCOMPLETE';
}
