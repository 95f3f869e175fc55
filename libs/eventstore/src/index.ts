export * from './errors.js';
export * from './event-store.js';
export * from './decider.js';
export { eventHeaders } from './codec.js';
export * from './parking.js';
export * from './snapshots.js';
export * from './view-checkpoints.js';
export * from './state-cache.js';
export * from './command-handler.js';
export * from './in-memory-event-store.js';

export * from './live-view.js';
export * from './command-metadata.js';
export * from './queued-devices.decider.js';
