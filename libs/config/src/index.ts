export * from './config-schema.js';
export * from './nats-connection.js';
export * from './jetstream-replicas.js';
