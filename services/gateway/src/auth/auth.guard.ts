import { Inject, Injectable, Optional, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Forbidden, TooManyRequests } from '../errors.js';
import type { GatewayRequest } from '../observability/request-context.js';
import { allows, type Role } from './roles.js';
import { OWNERSHIP, RATE_LIMITS, TOKEN_SERVICE } from '../tokens.js';
import type { OwnershipCheck } from '../owners/ownership.js';
import { routeKey, routeOwnership } from '../owners/route-ownership.js';
import type { RateLimiter, RateLimits } from './rate-limiter.js';
import type { TokenService } from './token-service.js';

const ROLE_KEY = 'tunnelkey:role';
const TICKET_KEY = 'tunnelkey:ticket';

/** The least role a route needs. */
export const RequiresRole = (role: Role) => SetMetadata(ROLE_KEY, role);
/** The route also accepts a short-lived `?ticket=` (EventSource cannot send an Authorization header). */
export const AcceptsTicket = () => SetMetadata(TICKET_KEY, true);

/**
 * 401 without a valid token, 403 when its role is below the route's, 429 past the token's request
 * rate (a failed authentication counts against the client's address), 404 when the request names
 * another owner's thing (the route's owner rule). Sets the request's principal.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(TOKEN_SERVICE) private readonly tokens: TokenService,
    @Optional() @Inject(RATE_LIMITS) private readonly limits?: RateLimits,
    @Optional() @Inject(OWNERSHIP) private readonly ownership?: OwnershipCheck,
  ) {}

  /** Each route's role and ticket metadata (the handler's, else its controller's), read once: per controller, per handler. */
  readonly #routeMetadata = new WeakMap<object, WeakMap<object, RouteMetadata>>();

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const { required, acceptsTicket } = this.#metadataOf(context);
    const request = context.switchToHttp().getRequest<GatewayRequest>();
    const header = request.headers.authorization;
    const bearer = typeof header === 'string' ? bearerPattern.exec(header)?.[1]!.trim() : undefined;
    const query = (request.query ?? {}) as Record<string, unknown>;
    const ticket = typeof query.ticket === 'string' ? query.ticket : undefined;
    let principal;
    try {
      principal =
        !bearer && ticket && acceptsTicket
          ? await this.tokens.verifyTicket(ticket)
          : await this.tokens.authenticate(bearer);
    } catch (error) {
      // A request with no credential at all was counted by the HTTP middleware already.
      if (this.limits && (bearer || ticket)) charge(this.limits.anonymous, `ip:${clientAddress(request)}`);
      throw error;
    }
    if (this.limits) charge(this.limits.perToken, `token:${principal.tokenId}`);
    request.principal = principal;
    if (!allows(principal.role, required))
      throw new Forbidden(`this needs the ${required} role; the token has ${principal.role}`);
    // Owners: every route has a rule, or it is refused (fail closed). The gateway module provides
    // the check; a slice test without read models checks the rule exists only.
    const key = routeKey(request.method, request.routeOptions.url ?? request.url.split('?')[0]!);
    const rule = routeOwnership.get(key);
    if (!rule) throw new Forbidden(`route ${key} has no owner rule`);
    await this.ownership?.check(principal, rule, {
      params: (request.params ?? {}) as Record<string, string>,
      body: request.body,
      query,
    });
    return true;
  }

  #metadataOf(context: ExecutionContext): RouteMetadata {
    const controller = context.getClass();
    const handler = context.getHandler();
    let handlers = this.#routeMetadata.get(controller);
    if (!handlers) this.#routeMetadata.set(controller, (handlers = new WeakMap()));
    let metadata = handlers.get(handler);
    if (!metadata) {
      const targets = [handler, controller];
      metadata = {
        required: this.reflector.getAllAndOverride<Role | undefined>(ROLE_KEY, targets) ?? 'admin',
        acceptsTicket: this.reflector.getAllAndOverride<boolean | undefined>(TICKET_KEY, targets) === true,
      };
      handlers.set(handler, metadata);
    }
    return metadata;
  }
}

interface RouteMetadata {
  required: Role;
  acceptsTicket: boolean;
}

const bearerPattern = /^Bearer\s+(.*)$/is;

/** The peer's address (the gateway trusts no forwarding header: run it behind a proxy that limits for it). */
export function clientAddress(request: { socket?: { remoteAddress?: string } }): string {
  return request.socket?.remoteAddress ?? 'unknown';
}

function charge(limiter: RateLimiter, key: string): void {
  const decision = limiter.take(key);
  if (!decision.allowed)
    throw new TooManyRequests(
      `too many requests; retry in ${decision.retryAfterSeconds} s`,
      decision.retryAfterSeconds,
    );
}
