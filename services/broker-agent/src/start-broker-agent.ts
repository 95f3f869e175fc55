/** Starts the broker agent (main.ts, tests): wiring only. Configuration from the environment unless given. */
import type { NatsConnection } from '@nats-io/transport-node';
import { startService, type RunningService } from '@tunnelkey/messaging';
import { brokerAgentConfigFromEnv, type BrokerAgentConfig } from './config.js';
import { BrokerAgentModule, type BrokerAgentModuleOptions } from './broker-agent.module.js';

export interface StartBrokerAgentOptions extends Partial<Omit<BrokerAgentModuleOptions, 'config'>> {
  /** An open connection to share; else one from the configuration (NATS_URL, NATS_USER...). */
  nats?: NatsConnection;
  /** Overrides single settings of the environment's configuration. */
  config?: Partial<BrokerAgentConfig>;
  /** Default: process.env. */
  env?: Record<string, string | undefined>;
}

export interface RunningBrokerAgentService {
  service: RunningService;
  /** Base URL of /health, /ready and /metrics. */
  url: string;
  stop(): Promise<void>;
}

export async function startBrokerAgent(options: StartBrokerAgentOptions = {}): Promise<RunningBrokerAgentService> {
  const { nats, config: overrides, env, ...rest } = options;
  const config: BrokerAgentConfig = { ...brokerAgentConfigFromEnv(env ?? process.env), ...overrides };
  const service = await startService({
    service: 'broker-agent',
    module: BrokerAgentModule.forRoot({ ...rest, config }),
    namespace: config.namespace,
    httpPort: config.httpPort,
    httpHost: config.httpHost,
    natsConfig: config,
    ...(nats ? { nats } : {}),
  });
  return { service, url: service.url, stop: () => service.stop() };
}
