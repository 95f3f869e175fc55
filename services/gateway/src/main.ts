import 'reflect-metadata';
import { startGateway } from './start-gateway.js';

// `node services/gateway/dist/main.js`: configuration from the environment (see config.ts).
// Nest's shutdown hooks (SIGTERM/SIGINT) close the app and with it every subscription.
await startGateway();
