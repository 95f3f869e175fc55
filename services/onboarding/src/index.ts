// Public entry of onboarding: the Nest module, a starter (tests, the demo), views, handlers, the target port, adapters.
export { OnboardingModule, onboardingStreams, type OnboardingModuleOptions } from './onboarding.module.js';
export {
  startOnboarding,
  type StartOnboardingOptions,
  type RunningOnboarding,
  type OnboardingViews,
} from './start-onboarding.js';
export { onboardingConfigSchema, onboardingConfigFromEnv, serverCaPemOf, type OnboardingConfig } from './config.js';
export * from './tokens.js';
export * from './errors.js';
export { BatchPlanView, BatchPlanState, type PolicyPlan } from './views/batch-plan.view.js';
export { CertificatesView, CertificatesState, type DeviceCertificate } from './views/certificates.view.js';
export { TargetsView, TargetsState, type TargetTrustState, type DeviceOnTargets } from './views/targets.view.js';
export { RegisterTargetHandler } from './register-target/register-target.handler.js';
export {
  OnboardDevicesHandler,
  type OnboardingReport,
  type OnboardingStarted,
} from './onboard-devices/onboard-devices.handler.js';
export { InstallTrustHandler, type RefreshTrust } from './install-trust/install-trust.handler.js';
export {
  DeprovisionDevicesHandler,
  type DeprovisionDevices,
  type DeprovisionOutcome,
} from './deprovision-devices/deprovision-devices.handler.js';
export { WatchTargetsHandler } from './watch-targets/watch-targets.handler.js';
export { RevokeDeviceHandler, type PublishedCrl } from './revoke-device/revoke-device.handler.js';
export { publishedCrlsDurable } from './revoke-device/published-crls.reaction.js';
export type * from './target-port/onboarding-target.js';
export { ConnectedTargets } from './target-port/connected-targets.js';
export { InMemoryTarget, InMemoryTargetConnector } from './target-port/in-memory-target.js';
export {
  checkTopicRights,
  deviceTopicPlan,
  telemetryFilters,
  type TopicRightSpec,
  type DeviceTopicPlan,
} from './target-port/topic-plan.js';
export { MosquittoTarget, type MosquittoTargetSettings } from './mosquitto/mosquitto-target.js';
export { mosquittoConnector, type MosquittoConnectorOptions } from './mosquitto/mosquitto-connector.js';
export { DynsecClient, type DynsecCommand, type DynsecResponse } from './mosquitto/dynsec-client.js';
export {
  InMemoryTargetCredentialStore,
  type TargetCredentialStore,
  type TargetCredentials,
} from './shared/target-credentials.js';
export { FileTargetSecrets, InMemoryTargetSecrets, type TargetSecrets } from './shared/target-secrets.js';
export {
  TargetAuthorities,
  TargetAuthority,
  targetAuthorityId,
  type TargetCertificate,
  type TargetCrl,
} from './target-authority/target-authority.js';
