/** Starts onboarding as a service (tests, the demo, main.ts): config from the environment unless given. */
import type { NatsConnection } from '@nats-io/transport-node';
import { loadPlatformKey, type PlatformKey } from '@tunnelkey/device-protocol';
import { startService, type RunningService } from '@tunnelkey/messaging';
import { mosquittoBindingsFromEnv, onboardingConfigFromEnv, type OnboardingConfig } from './config.js';
import { OnboardingConfigError } from './errors.js';
import { OnboardingModule, type OnboardingModuleOptions } from './onboarding.module.js';
import type { OnboardingRuntime } from './onboarding-runtime.js';
import { ONBOARDING_RUNTIME } from './tokens.js';

export interface StartOnboardingOptions extends Partial<Omit<OnboardingModuleOptions, 'config' | 'platformKey'>> {
  nats?: NatsConnection;
  /** Overrides TUNNELKEY_NAMESPACE. */
  namespace?: string;
  config?: Partial<OnboardingConfig>;
  env?: Record<string, string | undefined>;
  /** Default: from PLATFORM_KEY_FILE / PLATFORM_KEY. */
  platformKey?: PlatformKey;
}

export interface RunningOnboarding {
  service: RunningService;
  runtime: OnboardingRuntime;
  stop(): Promise<void>;
}

export async function startOnboarding(options: StartOnboardingOptions = {}): Promise<RunningOnboarding> {
  const env = options.env ?? process.env;
  const config: OnboardingConfig = { ...onboardingConfigFromEnv(env), ...options.config, ...(options.namespace !== undefined ? { namespace: options.namespace } : {}) };
  const platformKey = options.platformKey ?? (await loadPlatformKey(env));
  if (!platformKey) throw new OnboardingConfigError('no platform key: set PLATFORM_KEY_FILE or PLATFORM_KEY', { variable: 'PLATFORM_KEY_FILE' });
  const { nats, namespace: _namespace, config: _config, env: _env, platformKey: _platformKey, ...rest } = options;
  const service = await startService({
    service: 'onboarding',
    module: OnboardingModule.forRoot({ mosquittoBindings: mosquittoBindingsFromEnv(env), ...rest, config, platformKey }),
    namespace: config.namespace,
    httpPort: config.httpPort,
    ...(nats ? { nats } : {}),
  });
  const runtime = service.app.get<OnboardingRuntime>(ONBOARDING_RUNTIME);
  return { service, runtime, stop: () => service.stop() };
}
