import 'reflect-metadata';
import { generatePlatformKey, loadPlatformKey } from '@tunnelkey/device-protocol';
import { pino } from 'pino';
import { startRegistry } from './start-registry.js';

// `node services/registry/dist/main.js`: configuration from the environment (see config.ts).
const logger = pino({ name: 'registry', level: process.env.LOG_LEVEL ?? 'info' });
let platformKey = await loadPlatformKey();
if (!platformKey) {
  // Lets a fresh checkout start; devices pin the platform key, so a real deployment sets PLATFORM_KEY_FILE.
  platformKey = (await generatePlatformKey()).key;
  logger.warn({ event: 'registry.platform_key_generated' }, 'no PLATFORM_KEY_FILE or PLATFORM_KEY: using a throwaway platform key devices will not trust');
}
// Nest's shutdown hooks (SIGTERM/SIGINT) close the app and with it every subscription.
await startRegistry({ platformKey, logger });
