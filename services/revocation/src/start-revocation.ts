/** Starts the revocation service (tests, the demo, main.ts): wiring only. Configuration from the environment. */
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, natsConnectionOptions } from '@tunnelkey/config';
import type { EventStore } from '@tunnelkey/eventstore';
import { startService, type RunningService } from '@tunnelkey/messaging';
import { revocationConfigFromEnv, type RevocationConfig } from './config.js';
import { RevocationModule, type RevocationModuleOptions } from './revocation.module.js';
import { RevocationSagaReaction } from './revocation-saga/revocation-saga.reaction.js';
import { RevocationStatusView } from './views/revocation-status.view.js';

export interface StartRevocationOptions extends Partial<Omit<RevocationModuleOptions, 'config'>> {
  /** An open connection to share; else the configuration's NATS_URL. */
  nats?: NatsConnection;
  /** Overrides TUNNELKEY_NAMESPACE. */
  namespace?: string;
  /** Overrides single settings of the environment's configuration. */
  config?: Partial<RevocationConfig>;
  /** Default: process.env. */
  env?: Record<string, string | undefined>;
  /** The event store to use instead of JetStream on the connection (tests); its owner closes it. */
  eventStore?: EventStore;
}

export interface RunningRevocation {
  service: RunningService;
  /** Base URL of /health, /ready, /metrics and the revocation queries. */
  url: string;
  /** The saga: `idle()` resolves once no step is in flight (tests). */
  saga: RevocationSagaReaction;
  /** Waits until the view holds everything in the four logs now (tests). */
  syncNow(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRevocation(options: StartRevocationOptions = {}): Promise<RunningRevocation> {
  const { nats, namespace, config: overrides, env, eventStore, ...rest } = options;
  const config: RevocationConfig = {
    ...revocationConfigFromEnv(env ?? process.env),
    ...overrides,
    ...(namespace !== undefined ? { namespace } : {}),
  };
  const connection = nats ?? (await connectNats(await natsConnectionOptions(config, { name: 'revocation' })));
  const service = await startService({
    service: 'revocation',
    module: RevocationModule.forRoot({ ...rest, config }),
    namespace: config.namespace,
    httpPort: config.httpPort,
    nats: connection,
    ...(eventStore ? { eventStore } : {}),
  }).catch(async (error: unknown) => {
    if (!nats) await connection.close();
    throw error;
  });
  const view = service.app.get(RevocationStatusView);
  return {
    service,
    url: service.url,
    saga: service.app.get(RevocationSagaReaction),
    syncNow: () => view.catchUp(),
    async stop() {
      await service.stop();
      if (!nats) await connection.drain();
    },
  };
}
