import { createHash, randomUUID } from 'node:crypto';
import { canonicalJson, type CommandDefinition } from '@tunnelkey/contracts';
import { derivedCommandId } from '@tunnelkey/eventstore';
import type { CommandClient } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import type { Principal } from '../auth/roles.js';
import { BadRequest, IdempotencyKeyReused } from '../errors.js';
import { gatewayFields, type CommandRoute } from './command-routes.js';
import { InMemoryIdempotencyStore, type IdempotencyStore } from './idempotency/idempotency-store.js';

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
 * contract, with the commandId, the request's correlation id and the authenticated actor, which
 * the services record in their events.
 *
 * The commandId is new per request, or, with an Idempotency-Key, derived from the caller's token
 * and the key: two callers never share a command id. The key is bound to the digest of the request
 * it was first used for (the idempotency store): the same request again is sent again with the same
 * id (the owning service answers as before and changes nothing twice); another request under that
 * key is refused (422) and nothing is sent.
 */
export class CommandSender {
  constructor(
    private readonly client: CommandPort,
    private readonly namespace: string,
    private readonly logger: Logger,
    private readonly idempotency: IdempotencyStore = new InMemoryIdempotencyStore(),
  ) {}

  commandIdOf(context: CommandContext): string {
    if (context.idempotencyKey === undefined) return randomUUID();
    if (!idPattern.test(context.idempotencyKey))
      throw new BadRequest(`the Idempotency-Key header must match ${idPattern.source}`, [
        { path: 'header.idempotency-key' },
      ]);
    return derivedCommandId(context.principal.tokenId, context.idempotencyKey);
  }

  /**
   * Binds the request's Idempotency-Key to what it asks (the command and its payloads without the
   * fields the gateway sets); throws IdempotencyKeyReused when the key was used for something else.
   * Without a key there is nothing to bind.
   */
  async bindKey(
    command: CommandDefinition,
    commandId: string,
    payloads: readonly Record<string, unknown>[],
    context: CommandContext,
  ): Promise<void> {
    if (context.idempotencyKey === undefined) return;
    const digest = requestDigest(command, payloads);
    const first = await this.idempotency.claim(commandId, digest);
    if (first !== digest) {
      this.logger.warn(
        { event: 'gateway.idempotency_key_reused', command: command.name, commandId, actor: context.principal.name },
        'Idempotency-Key reused for another request',
      );
      throw new IdempotencyKeyReused(
        'this Idempotency-Key was already used for a different request; send a new key for a new request',
        [{ path: 'header.idempotency-key' }],
      );
    }
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
    await this.bindKey(route.command, commandId, [payload], context);
    return { commandId, correlationId: context.correlationId, result: await this.send<R>(route, payload, context) };
  }
}

/** SHA-256 of the command's name and its canonical payloads, without the fields the gateway sets itself. */
export function requestDigest(command: CommandDefinition, payloads: readonly Record<string, unknown>[]): string {
  const asked = payloads.map((payload) =>
    Object.fromEntries(
      Object.entries(payload).filter(([field]) => !(gatewayFields as readonly string[]).includes(field)),
    ),
  );
  let canonical: string;
  try {
    canonical = canonicalJson({ command: command.name, payloads: asked });
  } catch {
    throw new BadRequest('the request body has no canonical JSON form (e.g. a lone surrogate in a string)');
  }
  return createHash('sha256').update(canonical).digest('hex');
}
