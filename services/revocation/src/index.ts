// Public entry of the revocation service: the Nest module, a starter for tests and the demo, the saga and its queries.
export { RevocationModule, type RevocationModuleOptions } from './revocation.module.js';
export { startRevocation, type StartRevocationOptions, type RunningRevocation } from './start-revocation.js';
export { revocationConfigFromEnv, revocationConfigSchema, type RevocationConfig } from './config.js';
export { revocationQuerySubjects } from './revocation-status/revocation-status.ms-controller.js';
export type { RevocationView, DeviceRevocationView } from './revocation-status/revocation-status.queries.js';
export * from './errors.js';
export {
  revocationDecider,
  revocationStream,
  type RevocationState,
  type RevocationStatus,
} from './deciders/revocation.decider.js';
export { nextStep, involvedTargets } from './revocation-saga/next-step.js';
export { revocationIdFor } from './revoke-devices/revoke-devices.plan.js';
