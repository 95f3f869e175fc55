export * from './errors.js';
export * from './projection-store.js';
export * from './embedded-projection-store.js';
export { MongoProjectionStore, type MongoProjectionStoreOptions } from './mongodb-projection-store.js';
export * from './projection-runner.js';
export * from './from-env.js';
