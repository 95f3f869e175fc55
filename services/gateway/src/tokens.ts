// Injection tokens of the gateway's own providers (the platform's come from @tunnelkey/messaging).
/** `ReadModels`: the views on the projection store, and the store the queries read. */
export const READ_MODELS = Symbol('READ_MODELS');
/** `CommandSender`: operator commands to their owning services. */
export const COMMAND_SENDER = Symbol('COMMAND_SENDER');
/** `LiveUpdates`: the read models' changes, coalesced for the console's SSE stream. */
export const LIVE_UPDATES = Symbol('LIVE_UPDATES');
/** `TokenService`: API tokens, roles and SSE tickets. */
export const TOKEN_SERVICE = Symbol('TOKEN_SERVICE');
