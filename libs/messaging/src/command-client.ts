import type { NatsConnection } from '@nats-io/transport-node';
import { CommandFailed, type CommandReply } from './command-reply.js';

export interface CommandRequestOptions {
  /** Milliseconds to wait for the owning service (default 10 s). */
  timeoutMs?: number;
}

/**
 * Sends an operator command to the service that owns it and returns its result, or throws
 * CommandFailed with the service's code and message.
 */
export class CommandClient {
  private readonly encoder = new TextEncoder();

  constructor(private readonly connection: NatsConnection) {}

  async request<R = unknown>(subject: string, payload: unknown, options: CommandRequestOptions = {}): Promise<R> {
    let reply: CommandReply<R>;
    try {
      const msg = await this.connection.request(subject, this.encoder.encode(JSON.stringify(payload)), {
        timeout: options.timeoutMs ?? 10_000,
      });
      reply = msg.json<CommandReply<R>>();
    } catch (error) {
      throw new CommandFailed('UNAVAILABLE', `no answer on ${subject}`, undefined, { cause: error });
    }
    if (reply.ok) return reply.result;
    throw new CommandFailed(reply.error.code, reply.error.message, reply.error.details);
  }
}
