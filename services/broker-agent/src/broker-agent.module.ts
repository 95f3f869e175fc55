/** The broker agent's Nest module: its settings and the runner. No logic. */
import { Module, type DynamicModule } from '@nestjs/common';
import { pino, type Logger } from 'pino';
import type { BrokerAgentConfig } from './config.js';
import { BrokerAgentRunner } from './serve-broker/broker-agent.runner.js';
import { BROKER_AGENT_CONFIG, BROKER_AGENT_LOGGER } from './tokens.js';

export interface BrokerAgentModuleOptions {
  config: BrokerAgentConfig;
  logger?: Logger;
}

@Module({})
export class BrokerAgentModule {
  static forRoot(options: BrokerAgentModuleOptions): DynamicModule {
    const logger = options.logger ?? pino({ name: 'broker-agent', level: options.config.logLevel });
    return {
      module: BrokerAgentModule,
      providers: [
        { provide: BROKER_AGENT_CONFIG, useValue: options.config },
        { provide: BROKER_AGENT_LOGGER, useValue: logger },
        BrokerAgentRunner,
      ],
    };
  }
}
