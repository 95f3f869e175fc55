/** Injection tokens of the onboarding module. */
export const ONBOARDING_RUNTIME = Symbol('ONBOARDING_RUNTIME');
export const ONBOARDING_MODULE_OPTIONS = Symbol('ONBOARDING_MODULE_OPTIONS');
