/** Injection tokens of the CA module. */
export const CA_RUNTIME = Symbol('CA_RUNTIME');
export const CA_MODULE_OPTIONS = Symbol('CA_MODULE_OPTIONS');
