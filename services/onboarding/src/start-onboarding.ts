/** Starts onboarding as a service (main.ts, tests, the demo): configuration from the environment unless given. */
import type { NatsConnection } from '@nats-io/transport-node';
import { loadPlatformKey, type PlatformKey } from '@tunnelkey/device-protocol';
import type { EventStore } from '@tunnelkey/eventstore';
import { loadKek, type Kek } from '@tunnelkey/pki';
import { readFile } from 'node:fs/promises';
import { startService, type RunningService } from '@tunnelkey/messaging';
import { pino } from 'pino';
import { onboardingConfigFromEnv, serverCaPemOf, type OnboardingConfig } from './config.js';
import { DeprovisionDevicesHandler } from './deprovision-devices/deprovision-devices.handler.js';
import { OnboardingConfigError } from './errors.js';
import { InstallTrustHandler } from './install-trust/install-trust.handler.js';
import { OnboardingModule, type OnboardingModuleOptions } from './onboarding.module.js';
import { ConnectedTargets } from './target-port/connected-targets.js';
import { BatchPlanView } from './views/batch-plan.view.js';
import { CertificatesView } from './views/certificates.view.js';
import { TargetsView } from './views/targets.view.js';
import { WatchTargetsHandler } from './watch-targets/watch-targets.handler.js';

export interface StartOnboardingOptions
  extends Partial<Omit<OnboardingModuleOptions, 'config' | 'platformKey' | 'kek'>> {
  nats?: NatsConnection;
  /** Overrides TUNNELKEY_NAMESPACE. */
  namespace?: string;
  config?: Partial<OnboardingConfig>;
  env?: Record<string, string | undefined>;
  /** Default: from PLATFORM_KEY_FILE / PLATFORM_KEY. */
  platformKey?: PlatformKey;
  /** Default: from ONBOARDING_KEK / ONBOARDING_KEK_FILE. */
  kek?: Kek;
  /** Default: JetStream on the connection (tests may pass an InMemoryEventStore). */
  eventStore?: EventStore;
}

export interface OnboardingViews {
  batchPlan: BatchPlanView;
  certificates: CertificatesView;
  targets: TargetsView;
}

export interface RunningOnboarding {
  service: RunningService;
  /** The service's read models (tests and diagnostics). */
  views: OnboardingViews;
  /** Operations without a NATS command of their own (tests, the demo). */
  deprovisionDevices: DeprovisionDevicesHandler['handle'];
  refreshTrust: InstallTrustHandler['refreshTrust'];
  /** Records the periodic telemetry counters now and waits for them. */
  flushTelemetry(): Promise<void>;
  stop(): Promise<void>;
}

export async function startOnboarding(options: StartOnboardingOptions = {}): Promise<RunningOnboarding> {
  const env = options.env ?? process.env;
  const fromEnv = onboardingConfigFromEnv(env);
  const namespace = options.namespace !== undefined ? { namespace: options.namespace } : {};
  const config: OnboardingConfig = { ...fromEnv, ...options.config, ...namespace };
  const platformKey = options.platformKey ?? (await loadPlatformKey(env));
  if (!platformKey)
    throw new OnboardingConfigError('no platform key: set PLATFORM_KEY_FILE or PLATFORM_KEY', {
      variable: 'PLATFORM_KEY_FILE',
    });
  const kek = options.kek ?? (await loadKek({ env, readFile: (path) => readFile(path), variable: 'ONBOARDING_KEK' }));
  const {
    nats,
    eventStore,
    kek: _kek,
    namespace: _namespace,
    config: _config,
    env: _env,
    platformKey: _platformKey,
    ...rest
  } = options;
  const logger = options.logger ?? pino({ name: 'onboarding', level: config.logLevel });
  const serverCaPem = options.serverCaPem ?? serverCaPemOf(config.serverCaFiles);
  const service = await startService({
    service: 'onboarding',
    module: OnboardingModule.forRoot({ ...rest, serverCaPem, logger, config, platformKey, kek }),
    namespace: config.namespace,
    httpPort: config.httpPort,
    natsConfig: config,
    ...(nats ? { nats } : {}),
    ...(eventStore ? { eventStore } : {}),
  });
  const { app } = service;
  const deprovisioning = app.get(DeprovisionDevicesHandler);
  const trust = app.get(InstallTrustHandler);
  const watch = app.get(WatchTargetsHandler);
  const targets = app.get(ConnectedTargets).size;
  logger.info(
    { event: 'onboarding.started', instanceId: config.instanceId, namespace: config.namespace, targets },
    'onboarding started',
  );
  return {
    service,
    views: {
      batchPlan: app.get(BatchPlanView),
      certificates: app.get(CertificatesView),
      targets: app.get(TargetsView),
    },
    deprovisionDevices: (input) => deprovisioning.handle(input),
    refreshTrust: (input) => trust.refreshTrust(input),
    flushTelemetry: () => watch.flushTelemetry(),
    stop: () => service.stop(),
  };
}
