export * from './concurrency-limiter.js';
export * from './keyed-queue.js';
export * from './map-bounded.js';
export * from './outstanding-window.js';
export * from './periodic-task.js';
export * from './retry-backoff.js';
