import type { JetStreamEventStore } from '@tunnelkey/eventstore';
import type { Logger } from 'pino';
import type { CommandSender } from './commands/command-sender.js';
import type { TokenService } from './auth/token-service.js';
import type { LiveFeed } from './live-events/live-feed.js';
import type { MemoryReadStore } from './read-model/memory-read-store.js';
import type { ProjectionRunner } from './read-model/projection-runner.js';

/** What the gateway's controllers share: built by startGateway, handed to the module. */
export interface GatewayRuntime {
  namespace: string;
  logger: Logger;
  eventStore: JetStreamEventStore;
  readStore: MemoryReadStore;
  projections: ProjectionRunner;
  commands: CommandSender;
  tokens: TokenService;
  live: LiveFeed;
  /** The read models have caught up with the log (readiness). */
  ready(): boolean;
}
