export * from './jetstream-event-store.js';
export * from './jetstream-parked-store.js';
export * from './jetstream-setup.js';
export * from './kv-snapshot-store.js';
export * from './kv-view-checkpoint-store.js';
