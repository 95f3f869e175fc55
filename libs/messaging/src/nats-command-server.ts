import { Server, type CustomTransportStrategy, type MessageHandler } from '@nestjs/microservices';
import { type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { connectNats, natsConnectionConfig, natsConnectionOptions } from '@tunnelkey/config';
import { lastValueFrom, isObservable } from 'rxjs';
import { errorReply, type CommandReply } from './command-reply.js';
import { MappedCommandError } from './command-error.filter.js';

export interface NatsCommandServerOptions {
  /** An open connection to share, or servers to connect to (default NATS_URL or loopback; credentials and TLS from the environment). */
  connection?: NatsConnection;
  servers?: string;
  /** Queue group: instances of one service share the commands. Usually the service name. */
  queue: string;
  /** Isolates a deployment or a test: handlers for `cmd.x.y` listen on `<namespace>.cmd.x.y`. */
  namespace?: string;
  /** Requests larger than this are refused before parsing. */
  maxRequestBytes?: number;
  /** After each reply: the command's pattern (`cmd.x.y`), `ok` or the error code, and how long it took (the service's metrics). */
  onAnswered?: (command: string, outcome: string, seconds: number) => void;
}

const defaultMaxRequestBytes = 1024 * 1024;

/** The request context a command handler can ask for with `@Ctx()`. */
export class NatsCommandContext {
  constructor(
    readonly subject: string,
    readonly headers: Msg['headers'],
  ) {}
}

/**
 * Serves `@MessagePattern('cmd.<service>.<command>')` handlers over core NATS request/reply with
 * plain JSON in and a CommandReply out, so any NATS client (CLI, gateway, scripts) can call them.
 * Errors are mapped to replies here, once, for every handler.
 */
export class NatsCommandServer extends Server implements CustomTransportStrategy {
  private connection?: NatsConnection;
  private ownsConnection = false;
  private readonly subscriptions: Subscription[] = [];
  private readonly encoder = new TextEncoder();

  constructor(private readonly options: NatsCommandServerOptions) {
    super();
  }

  async listen(callback: (error?: unknown) => void): Promise<void> {
    try {
      this.connection =
        this.options.connection ??
        (await connectNats(
          await natsConnectionOptions(natsConnectionConfig(), {
            name: this.options.queue,
            ...(this.options.servers ? { servers: this.options.servers } : {}),
          }),
        ));
      this.ownsConnection = !this.options.connection;
      const prefix = this.options.namespace ? `${this.options.namespace}.` : '';
      for (const [pattern, handler] of this.getHandlers()) {
        if (handler.isEventHandler) continue;
        const subject = `${prefix}${pattern}`;
        this.subscriptions.push(
          this.connection.subscribe(subject, {
            queue: this.options.queue,
            callback: (error, msg) => {
              if (error) {
                this.logger.error(`subscription ${subject} failed: ${error.message}`);
                return;
              }
              void this.answer(handler, msg, pattern);
            },
          }),
        );
      }
      await this.connection.flush();
      callback();
    } catch (error) {
      callback(error);
    }
  }

  private async answer(handler: MessageHandler, msg: Msg, pattern: string): Promise<void> {
    const started = performance.now();
    let reply: CommandReply;
    try {
      reply = { ok: true, result: await this.run(handler, msg) };
    } catch (error) {
      reply = error instanceof MappedCommandError ? error.reply : errorReply(error);
      if (reply.ok === false && reply.error.code === 'INTERNAL') {
        const cause = error instanceof MappedCommandError ? error.cause : error;
        // Name and stack only: an unknown error's message may carry input or key material.
        this.logger.error(
          `${msg.subject} failed: ${cause instanceof Error ? cause.name : 'unknown error'}`,
          cause instanceof Error ? cause.stack?.split('\n').slice(1).join('\n') : undefined,
        );
      }
    }
    if (msg.reply) msg.respond(this.encoder.encode(JSON.stringify(reply)));
    this.options.onAnswered?.(pattern, reply.ok ? 'ok' : reply.error.code, (performance.now() - started) / 1000);
  }

  private async run(handler: MessageHandler, msg: Msg): Promise<unknown> {
    const limit = this.options.maxRequestBytes ?? defaultMaxRequestBytes;
    if (msg.data.length > limit) {
      throw Object.assign(new Error(`request of ${msg.data.length} bytes exceeds the ${limit}-byte limit`), {
        name: 'CommandRejected',
        code: 'TOO_LARGE',
      });
    }
    let payload: unknown;
    try {
      payload = msg.json();
    } catch {
      throw Object.assign(new Error('request body is not valid JSON'), { name: 'CommandRejected', code: 'MALFORMED' });
    }
    const result = await handler(payload, new NatsCommandContext(msg.subject, msg.headers));
    return isObservable(result) ? lastValueFrom(result) : result;
  }

  on(): never {
    throw new Error('NatsCommandServer has no events to listen to');
  }

  unwrap<T>(): T {
    if (!this.connection) throw new Error('NatsCommandServer is not listening');
    return this.connection as T;
  }

  async close(): Promise<void> {
    for (const subscription of this.subscriptions.splice(0)) subscription.unsubscribe();
    if (this.ownsConnection) await this.connection?.drain();
    this.connection = undefined;
  }
}
