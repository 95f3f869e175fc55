/** Injection tokens of the revocation module. */
export const REVOCATION_RUNTIME = Symbol('REVOCATION_RUNTIME');
