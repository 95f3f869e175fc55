export * from './broker-agent.js';
export * from './broker-agent-client.js';
export * from './broker-files.js';
export * from './broker-host.js';
export * from './broker-log.js';
export * from './broker-messages.js';
export * from './broker-subjects.js';
export * from './errors.js';
