import 'reflect-metadata';
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { METRICS_REGISTRY, serviceHttpAdapter } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { AuthGuard } from '../auth/auth.guard.js';
import type { TokenService } from '../auth/token-service.js';
import { configureHttp, gatewayAppOptions } from '../configure-http.js';
import { COMMAND_SENDER, TOKEN_SERVICE } from '../tokens.js';
import { CommandSender, type CommandPort } from './command-sender.js';
import { CommandsController } from './commands.controller.js';

export interface CommandsApp {
  app: INestApplication;
  url: string;
}

/**
 * The command controller over real HTTP (auth guard, body parsers, error mapping) in front of a
 * double of the bus: what the slice and fuzz tests of the command routes drive.
 */
export async function startCommandsApp(options: {
  bus: CommandPort;
  tokens: TokenService;
  logger: Logger;
  namespace: string;
  bodyLimit?: string;
}): Promise<CommandsApp> {
  @Module({
    controllers: [CommandsController],
    providers: [
      { provide: COMMAND_SENDER, useValue: new CommandSender(options.bus, options.namespace, options.logger) },
      { provide: TOKEN_SERVICE, useValue: options.tokens },
      { provide: METRICS_REGISTRY, useValue: new Registry() },
      AuthGuard,
    ],
  })
  class CommandsSliceModule {}
  const app = await NestFactory.create(CommandsSliceModule, serviceHttpAdapter(), {
    ...gatewayAppOptions,
    logger: false,
  });
  await configureHttp(app, { bodyLimit: options.bodyLimit ?? '1mb' }, options.logger);
  await app.listen(0, '127.0.0.1');
  return { app, url: (await app.getUrl()).replace('[::1]', '127.0.0.1') };
}
