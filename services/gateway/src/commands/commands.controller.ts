import { Body, Controller, HttpCode, Inject, Optional, Param, Post, Req, UseGuards } from '@nestjs/common';
import { AuthGuard, RequiresRole } from '../auth/auth.guard.js';
import type { GatewayRequest } from '../observability/request-context.js';
import { bytesOf, readBody } from '../body-limits.js';
import { COMMAND_SENDER, IMPORT_BODY_LIMIT, OWNERSHIP } from '../tokens.js';
import type { OwnershipCheck } from '../owners/ownership.js';
import { commandRoutes, routePath, type CommandRoute, type CommandRouteName } from './command-routes.js';
import type { CommandContext, CommandSender } from './command-sender.js';
import { importIdentities } from './import-identities/import-identities.js';

export function commandContextOf(request: GatewayRequest): CommandContext {
  const key = request.headers['idempotency-key'];
  return {
    principal: request.principal!,
    correlationId: request.correlationId!,
    ...(typeof key === 'string' ? { idempotencyKey: key } : {}),
  };
}

const importRoute = commandRoutes.ImportIdentities;

/**
 * One route per operator command, made from `commandRoutes` (path, role, status): a command
 * leaves the API, the OpenAPI document and the CLI together by leaving the table. Each route
 * checks the body against the command's contract and sends it to the owning service over NATS.
 * Identity files are the one exception: split into several calls (import-identities/).
 */
@Controller()
@UseGuards(AuthGuard)
export class CommandsController {
  constructor(
    @Inject(COMMAND_SENDER) readonly sender: CommandSender,
    @Optional() @Inject(IMPORT_BODY_LIMIT) private readonly importBodyLimit: number = bytesOf('32mb'),
    @Optional() @Inject(OWNERSHIP) readonly ownership?: OwnershipCheck,
  ) {}

  /** The body is read here, once the guard checked the token and its role (a large-body route). */
  @Post(routePath(importRoute.path))
  @RequiresRole(importRoute.role)
  @HttpCode(importRoute.status)
  async importIdentities(@Req() request: GatewayRequest, @Param('batchId') batchId: string) {
    const body = await readBody(request.raw, this.importBodyLimit);
    const contentType = String(request.headers['content-type'] ?? '');
    return importIdentities(
      this.sender,
      batchId,
      body,
      contentType,
      request.query as Record<string, unknown>,
      commandContextOf(request),
    );
  }
}

/** Sends one route's command: the body, with the path parameters and the request's context. */
function sendCommand(route: CommandRoute) {
  return async function (
    this: CommandsController,
    request: GatewayRequest,
    params: Record<string, string>,
    body: unknown,
  ) {
    const outcome = await this.sender.run(route, body, params, commandContextOf(request));
    if (route !== commandRoutes.ListIntegrityAlerts || !this.ownership) return outcome;
    return { ...outcome, result: await ownAlerts(this.ownership, request, outcome.result) };
  };
}

/** The fleet's alert list, cut to the caller's owner's devices (a platform admin's: all). */
async function ownAlerts(ownership: OwnershipCheck, request: GatewayRequest, result: unknown): Promise<unknown> {
  const { alerts } = result as { alerts: { deviceId: string }[] };
  const visible = await Promise.all(
    alerts.map((alert) => ownership.visible(request.principal!, { kind: 'device', id: alert.deviceId })),
  );
  return { ...(result as object), alerts: alerts.filter((_, i) => visible[i]) };
}

// What the decorators would do on hand-written methods, once per row of the table.
for (const [name, route] of Object.entries(commandRoutes) as [CommandRouteName, CommandRoute][]) {
  if (route === importRoute) continue;
  const method = `send${name}`;
  const prototype = CommandsController.prototype as unknown as Record<string, unknown>;
  Object.defineProperty(prototype, method, { value: sendCommand(route), writable: true, configurable: true });
  const descriptor = Object.getOwnPropertyDescriptor(prototype, method)!;
  Req()(prototype, method, 0);
  Param()(prototype, method, 1);
  Body()(prototype, method, 2);
  for (const decorate of [Post(routePath(route.path)), RequiresRole(route.role), HttpCode(route.status)])
    decorate(prototype, method, descriptor);
}
