// Public entry of the broker agent: a starter (tests, the platform), its module and configuration.
export { BrokerAgentModule, type BrokerAgentModuleOptions } from './broker-agent.module.js';
export {
  startBrokerAgent,
  type StartBrokerAgentOptions,
  type RunningBrokerAgentService,
} from './start-broker-agent.js';
export { brokerAgentConfigFromEnv, brokerAgentConfigSchema, type BrokerAgentConfig } from './config.js';
