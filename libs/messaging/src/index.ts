export * from './command-reply.js';
export * from './command-client.js';
export * from './nats-command-server.js';
export * from './command-error.filter.js';
export * from './platform.module.js';
export * from './start-service.js';
export * from './view-provider.js';
export * from './durable-reaction.js';
