// Public entry of the registry service: the module, a starter for tests/demo/e2e, and the query API.
export { RegistryModule, type RegistryModuleOptions } from './registry.module.js';
export {
  startRegistry,
  type RegistryReadModel,
  type RunningRegistry,
  type StartRegistryOptions,
} from './start-registry.js';
export { registryConfig, type RegistryConfig } from './config.js';
export { registryQuerySubjects } from './views/registry-queries.ms-controller.js';
export type { BatchSummary } from './views/batch-summary.view.js';
export type { DeviceDetail } from './views/device-by-id.view.js';
export type { DeviceState, DeviceStatus } from './deciders/device-state.js';
export { revocationStepsDurable } from './revoke-device/revocation-steps.reaction.js';
