import type { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import type { Logger } from 'pino';
import type { CommandSender } from './commands/command-sender.js';
import type { TokenService } from './auth/token-service.js';
import type { LiveFeed } from './live-events/live-feed.js';
import type { ReadModels } from './read-model/read-models.js';

/** What the gateway's controllers share: built by startGateway, handed to the module. */
export interface GatewayRuntime {
  namespace: string;
  logger: Logger;
  eventStore: JetStreamEventStore;
  /** The read models: their store (embedded or MongoDB) and the runners feeding it. */
  readModels: ReadModels;
  commands: CommandSender;
  tokens: TokenService;
  live: LiveFeed;
  /** The read models have caught up with the log (readiness). */
  ready(): boolean;
}
