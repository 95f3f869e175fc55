/** The registry process: configuration from the environment (see config.ts), stops cleanly on SIGTERM/SIGINT. */
import 'reflect-metadata';
import { startRegistry } from './start-registry.js';

// Like the CA, refuses to start without PLATFORM_KEY_FILE / PLATFORM_KEY: devices pin that key, so
// a throwaway one would make every downlink this process signs unverifiable.
// Nest's shutdown hooks (SIGTERM/SIGINT) close the app and with it every subscription.
await startRegistry();
