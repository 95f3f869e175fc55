/** Injection tokens of the registry's own ports (EVENT_STORE and the rest come from @tunnelkey/messaging). */

/** The RegistryConfig read from the schema in config.ts. */
export const REGISTRY_CONFIG = Symbol('REGISTRY_CONFIG');
/** The pino logger every provider logs to. */
export const REGISTRY_LOGGER = Symbol('REGISTRY_LOGGER');
/** A Clock: handlers read the time here and hand it to deciders in the command metadata. */
export const REGISTRY_CLOCK = Symbol('REGISTRY_CLOCK');
/** The PlatformKey every platform -> device message is signed with. */
export const PLATFORM_KEY = Symbol('PLATFORM_KEY');
/** The Downlinks port (downlink-port/): signed messages to a device's inbox. */
export const DOWNLINKS = Symbol('DOWNLINKS');
