// Public entry of @tunnelkey/device-protocol: signing and verifying device-protocol envelopes
// (schemas and canonical bytes live in @tunnelkey/contracts), counters and replay protection.
export * from './errors.js';
export * from './signature.js';
export * from './custody.js';
export * from './envelope-signer.js';
export * from './message-verifier.js';
export * from './replay-guard.js';
export type { CryptoKey } from './crypto-key.js';
export * from './platform-key.js';
export * from './downlink-publisher.js';
