// Injection tokens of the gateway's own providers (the platform's come from @tunnelkey/messaging).
/** `ReadModels`: the views on the projection store, and the store the queries read. */
export const READ_MODELS = Symbol('READ_MODELS');
/** `CommandSender`: operator commands to their owning services. */
export const COMMAND_SENDER = Symbol('COMMAND_SENDER');
/** `LiveUpdates`: the read models' changes, coalesced for the console's SSE stream. */
export const LIVE_UPDATES = Symbol('LIVE_UPDATES');
/** `FleetPulse`: the fleet's numbers over time, for the console's dashboard. */
export const FLEET_PULSE = Symbol('FLEET_PULSE');
/** `TokenService`: API tokens, roles and SSE tickets. */
export const TOKEN_SERVICE = Symbol('TOKEN_SERVICE');
/** `RateLimits`: requests per second per API token and per client address without one. */
export const RATE_LIMITS = Symbol('RATE_LIMITS');
/** The largest body of a large-body route (identity import), in bytes; read after authentication. */
export const IMPORT_BODY_LIMIT = Symbol('IMPORT_BODY_LIMIT');
/** `OwnershipCheck`: every route's owner rule, applied by the auth guard (owners/route-ownership.ts). */
export const OWNERSHIP = Symbol('OWNERSHIP');
