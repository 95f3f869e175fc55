/** The contract suite every EventStore adapter passes (tests only). */
export * from './event-store.features.js';
