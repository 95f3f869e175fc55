/** Injection tokens of the broker agent's own settings. */
export const BROKER_AGENT_CONFIG = Symbol('BROKER_AGENT_CONFIG');
export const BROKER_AGENT_LOGGER = Symbol('BROKER_AGENT_LOGGER');
