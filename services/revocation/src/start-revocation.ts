/** Starts the revocation service (tests, the demo, main.ts): configuration from the environment unless given. */
import type { NatsConnection } from '@nats-io/transport-node';
import { startService, type RunningService } from '@tunnelkey/messaging';
import { revocationConfigFromEnv, type RevocationConfig } from './config.js';
import { RevocationModule, type RevocationModuleOptions } from './revocation.module.js';
import type { RevocationRuntime } from './revocation-runtime.js';
import { REVOCATION_RUNTIME } from './tokens.js';

export interface StartRevocationOptions extends Partial<Omit<RevocationModuleOptions, 'config'>> {
  /** An open connection to share; else NATS_URL. */
  nats?: NatsConnection;
  /** Overrides TUNNELKEY_NAMESPACE. */
  namespace?: string;
  /** Overrides single settings of the environment's configuration. */
  config?: Partial<RevocationConfig>;
  /** Default: process.env. */
  env?: Record<string, string | undefined>;
}

export interface RunningRevocation {
  service: RunningService;
  runtime: RevocationRuntime;
  /** Base URL of /health, /ready, /metrics and the revocation queries. */
  url: string;
  stop(): Promise<void>;
}

export async function startRevocation(options: StartRevocationOptions = {}): Promise<RunningRevocation> {
  const { nats, namespace, config: overrides, env, ...rest } = options;
  const config: RevocationConfig = { ...revocationConfigFromEnv(env ?? process.env), ...overrides, ...(namespace !== undefined ? { namespace } : {}) };
  const service = await startService({
    service: 'revocation',
    module: RevocationModule.forRoot({ ...rest, config }),
    namespace: config.namespace,
    httpPort: config.httpPort,
    ...(nats ? { nats } : {}),
  });
  const runtime = service.app.get<RevocationRuntime>(REVOCATION_RUNTIME);
  return { service, runtime, url: service.url, stop: () => service.stop() };
}
