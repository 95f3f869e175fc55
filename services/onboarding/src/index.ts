// Public entry of the onboarding service: the Nest module, a starter for tests and the demo, the target port and its Mosquitto adapter.
export { OnboardingModule, type OnboardingModuleOptions } from './onboarding.module.js';
export { startOnboarding, type StartOnboardingOptions, type RunningOnboarding } from './start-onboarding.js';
export { OnboardingRuntime, type OnboardingRuntimeOptions, type OnboardingReport } from './onboarding-runtime.js';
export { onboardingConfigFromEnv, mosquittoBindingsFromEnv, type OnboardingConfig } from './config.js';
export { ONBOARDING_RUNTIME } from './tokens.js';
export * from './errors.js';
export type * from './target-port/onboarding-target.js';
export { checkTopicRights, deviceTopicPlan, telemetryFilters, type TopicRightSpec, type DeviceTopicPlan } from './target-port/topic-plan.js';
export { MosquittoTarget, type MosquittoTargetSettings, type MosquittoHostBinding } from './mosquitto/mosquitto-target.js';
export { pidFileReloader, hookReloader, type BrokerReloader, type BrokerTrustPaths } from './mosquitto/broker-trust-files.js';
export { DynsecClient, type DynsecCommand, type DynsecResponse } from './mosquitto/dynsec-client.js';
export { InMemoryTargetCredentialStore, type TargetCredentialStore, type TargetCredentials } from './shared/target-credentials.js';
export { HttpCrlSource, type CrlSource } from './shared/crl-source.js';
