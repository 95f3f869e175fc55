/** Starts the CA as a service (tests, the demo, main.ts): config from the environment unless given. */
import { readFile } from 'node:fs/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import { loadPlatformKey, type PlatformKey } from '@tunnelkey/device-protocol';
import { startService, type RunningService } from '@tunnelkey/messaging';
import { loadKek, type Kek } from '@tunnelkey/pki';
import { CaModule, type CaModuleOptions } from './ca.module.js';
import type { CaRuntime } from './ca-runtime.js';
import { caConfigFromEnv, type CaConfig } from './config.js';
import { CaConfigError } from './errors.js';
import { CA_RUNTIME } from './tokens.js';

export interface StartCaOptions extends Partial<Omit<CaModuleOptions, 'config' | 'kek' | 'platformKey'>> {
  /** An open connection to share; else NATS_URL. */
  nats?: NatsConnection;
  /** Overrides TUNNELKEY_NAMESPACE. */
  namespace?: string;
  /** Overrides single settings of the environment's configuration (e.g. instanceId, httpPort, crlBaseUrl). */
  config?: Partial<CaConfig>;
  /** Default: process.env. */
  env?: Record<string, string | undefined>;
  /** Default: from CA_KEK / CA_KEK_FILE. */
  kek?: Kek;
  /** Default: from PLATFORM_KEY_FILE / PLATFORM_KEY. */
  platformKey?: PlatformKey;
  logger?: CaModuleOptions['logger'];
}

export interface RunningCa {
  service: RunningService;
  runtime: CaRuntime;
  stop(): Promise<void>;
}

export async function startCa(options: StartCaOptions = {}): Promise<RunningCa> {
  const env = options.env ?? process.env;
  const config: CaConfig = { ...caConfigFromEnv(env), ...options.config, ...(options.namespace !== undefined ? { namespace: options.namespace } : {}) };
  const kek = options.kek ?? (await loadKek({ env, readFile: (path) => readFile(path) }));
  const platformKey = options.platformKey ?? (await loadPlatformKey(env));
  if (!platformKey) throw new CaConfigError('no platform key: set PLATFORM_KEY_FILE or PLATFORM_KEY', { variable: 'PLATFORM_KEY_FILE' });
  const { nats, namespace: _namespace, config: _config, env: _env, kek: _kek, platformKey: _platformKey, ...rest } = options;
  const service = await startService({
    service: 'ca',
    module: CaModule.forRoot({ ...rest, config, kek, platformKey }),
    namespace: config.namespace,
    httpPort: config.httpPort,
    ...(nats ? { nats } : {}),
  });
  const runtime = service.app.get<CaRuntime>(CA_RUNTIME);
  return { service, runtime, stop: () => service.stop() };
}
