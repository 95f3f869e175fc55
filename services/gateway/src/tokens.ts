/** Injection tokens of the gateway module. */
export const GATEWAY_RUNTIME = Symbol('GATEWAY_RUNTIME');
export const TOKEN_SERVICE = Symbol('TOKEN_SERVICE');
