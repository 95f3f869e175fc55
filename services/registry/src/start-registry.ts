import { connect, type NatsConnection } from '@nats-io/transport-node';
import { loadPlatformKey, type PlatformKey } from '@tunnelkey/device-protocol';
import { startService, type RunningService } from '@tunnelkey/messaging';
import { pino, type Logger } from 'pino';
import { registryConfigFromEnv, type RegistryConfig } from './config.js';
import { RegistryReadModel } from './read-model/registry-read-model.js';
import { CertificateIssuedSubscriber } from './record-certificate/certificate-issued.subscriber.js';
import { RegistryModule } from './registry.module.js';
import { systemClock, type Clock } from './shared/clock.js';
import { RegistryConfigError } from './shared/registry-errors.js';
import type { RegistryRuntime } from './shared/registry-runtime.js';

export interface StartRegistryOptions extends Partial<RegistryConfig> {
  /** An open connection to share (tests, the one-process demo); else one to `natsUrl` is opened and closed with the service. */
  nats?: NatsConnection;
  /** Else PLATFORM_KEY_FILE / PLATFORM_KEY from `env`. Required one way or the other. */
  platformKey?: PlatformKey;
  /** Where unset options are read from. Default process.env. */
  env?: Record<string, string | undefined>;
  logger?: Logger;
  clock?: Clock;
  /** Nest's own log levels (default errors and warnings). */
  nestLogger?: false | ('error' | 'warn' | 'log')[];
}

export interface RunningRegistry {
  readonly service: RunningService;
  /** Base URL of /health, /ready, /metrics. */
  readonly url: string;
  readonly nats: NatsConnection;
  readonly namespace: string;
  readonly readModel: RegistryReadModel;
  /** Resolves once the registry follows the CA's events (the CA's stream must exist). */
  caSubscriptionStarted(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the registry as a hybrid Nest service (commands over NATS + /health /ready /metrics).
 * Resolves once the read model is rebuilt from the log and the device subscriptions are live.
 */
export async function startRegistry(options: StartRegistryOptions = {}): Promise<RunningRegistry> {
  const env = options.env ?? process.env;
  const config = { ...registryConfigFromEnv(env), ...definedOnly(options) } as RegistryConfig;
  const platformKey = options.platformKey ?? (await loadPlatformKey(env));
  if (!platformKey) throw new RegistryConfigError('the platform key is missing: set PLATFORM_KEY_FILE or PLATFORM_KEY', { variable: 'PLATFORM_KEY_FILE' });
  const logger = options.logger ?? pino({ name: 'registry', level: config.logLevel });
  const runtime: RegistryRuntime = {
    namespace: config.namespace,
    platformKey,
    clock: options.clock ?? systemClock,
    logger,
    challengeTtlSeconds: config.challengeTtlSeconds,
    bulkConcurrency: config.bulkConcurrency,
    uplinkConcurrency: config.uplinkConcurrency,
  };
  const nats = options.nats ?? (await connect({ servers: config.natsUrl, name: 'registry' }));
  let service: RunningService;
  try {
    service = await startService({
      service: 'registry',
      module: RegistryModule.forRoot(runtime),
      namespace: config.namespace || undefined,
      nats,
      httpPort: config.httpPort,
      logger: options.nestLogger ?? ['error', 'warn'],
    });
  } catch (error) {
    if (!options.nats) await nats.close();
    throw error;
  }
  const readModel = service.app.get(RegistryReadModel);
  const caSubscriber = service.app.get(CertificateIssuedSubscriber);
  logger.info({ event: 'registry.started', namespace: config.namespace, url: service.url, keyId: platformKey.keyId }, 'registry started');
  return {
    service,
    url: service.url,
    nats,
    namespace: config.namespace,
    readModel,
    caSubscriptionStarted: () => caSubscriber.started(),
    async stop() {
      await service.stop();
      if (!options.nats) await nats.drain();
      logger.info({ event: 'registry.stopped', namespace: config.namespace }, 'registry stopped');
    },
  };
}

function definedOnly(options: StartRegistryOptions): Partial<RegistryConfig> {
  const keys: (keyof RegistryConfig)[] = ['natsUrl', 'namespace', 'httpPort', 'challengeTtlSeconds', 'logLevel', 'bulkConcurrency', 'uplinkConcurrency'];
  return Object.fromEntries(keys.filter((key) => options[key] !== undefined).map((key) => [key, options[key]]));
}
