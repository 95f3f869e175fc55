export * from './decider-specification.js';
export * from './nats-fixture.js';
export * from './wait-for.js';
export * from './mosquitto-fixture.js';
export * from './broker-server-identity.js';
export * from './given-events.js';
export * from './fuzz.js';
export * from './secured-nats.js';
