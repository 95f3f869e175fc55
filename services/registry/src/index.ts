// Public entry of the registry service: the module, a starter for tests/demo/e2e, and the query API.
export { RegistryModule } from './registry.module.js';
export { startRegistry, type RunningRegistry, type StartRegistryOptions } from './start-registry.js';
export { registryConfigFromEnv, type RegistryConfig } from './config.js';
export type { RegistryRuntime } from './shared/registry-runtime.js';
export { RegistryReadModel } from './read-model/registry-read-model.js';
export { registryQuerySubjects } from './read-model/registry-queries-ms.controller.js';
export type { BatchSummary } from './batch-summary/batch-summary.view.js';
export type { DeviceDetail } from './device-by-id/device-by-id.view.js';
export type { DeviceState, DeviceStatus } from './deciders/device-state.js';
export { RegistryConfigError } from './shared/registry-errors.js';
export { certificateIssuedDurable } from './record-certificate/certificate-issued.subscriber.js';
