export * from './contexts.js';
export * from './envelope.js';
export * from './errors.js';
export * from './define-event.js';
export * from './catalog.js';
export * from './events/registry.events.js';
