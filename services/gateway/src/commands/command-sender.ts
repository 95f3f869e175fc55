import { randomUUID } from 'node:crypto';
import type { CommandDefinition } from '@tunnelkey/contracts';
import type { CommandClient } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import type { Principal } from '../auth/roles.js';
import { BadRequest } from '../errors.js';
import type { CommandRoute } from './command-routes.js';

export interface CommandContext {
  principal: Principal;
  correlationId: string;
  /** The client's Idempotency-Key, when it sent one. */
  idempotencyKey?: string;
}

export interface CommandOutcome<R = unknown> {
  commandId: string;
  correlationId: string;
  result: R;
}

const idPattern = /^[A-Za-z0-9_-]{1,128}$/;

/** What the sender needs of the bus: `CommandClient` (NATS request/reply), or a double in tests. */
export type CommandPort = Pick<CommandClient, 'request'>;

/**
 * Sends an operator command to its owning service: body + path parameters, checked against the
 * contract, with the commandId (the client's Idempotency-Key, else a new one), the request's
 * correlation id and the authenticated actor, which the services record in their events.
 */
export class CommandSender {
  constructor(
    private readonly client: CommandPort,
    private readonly namespace: string,
    private readonly logger: Logger,
  ) {}

  commandIdOf(context: CommandContext): string {
    if (context.idempotencyKey === undefined) return randomUUID();
    if (!idPattern.test(context.idempotencyKey))
      throw new BadRequest(`the Idempotency-Key header must match ${idPattern.source}`, [
        { path: 'header.idempotency-key' },
      ]);
    return context.idempotencyKey;
  }

  payloadOf(
    definition: CommandDefinition,
    body: unknown,
    params: Record<string, string>,
    commandId: string,
    context: CommandContext,
  ): Record<string, unknown> {
    if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body)))
      throw new BadRequest('the request body must be a JSON object', [{ path: '/' }]);
    const {
      actor: _ignored,
      correlationId: _also,
      commandId: _too,
      ...fields
    } = (body ?? {}) as Record<string, unknown>;
    const payload = {
      ...fields,
      ...params,
      commandId,
      correlationId: context.correlationId,
      actor: { kind: 'operator', id: context.principal.name },
    };
    // Throws ContractViolation naming the failing paths (400).
    definition.parse(payload);
    return payload;
  }

  async send<R>(route: CommandRoute, payload: Record<string, unknown>, context: CommandContext): Promise<R> {
    const { command } = route;
    const started = Date.now();
    try {
      return await this.client.request<R>(command.subject(this.namespace), payload, { timeoutMs: route.timeoutMs });
    } finally {
      this.logger.info(
        {
          event: 'gateway.command',
          command: command.name,
          commandId: payload.commandId,
          correlationId: context.correlationId,
          actor: context.principal.name,
          ms: Date.now() - started,
        },
        'command sent',
      );
    }
  }

  async run<R>(
    route: CommandRoute,
    body: unknown,
    params: Record<string, string>,
    context: CommandContext,
  ): Promise<CommandOutcome<R>> {
    const commandId = this.commandIdOf(context);
    const payload = this.payloadOf(route.command, body, params, commandId, context);
    return { commandId, correlationId: context.correlationId, result: await this.send<R>(route, payload, context) };
  }
}
