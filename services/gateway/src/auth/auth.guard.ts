import { Inject, Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Forbidden } from '../errors.js';
import type { GatewayRequest } from '../observability/request-context.js';
import { allows, type Role } from './roles.js';
import { TOKEN_SERVICE } from '../tokens.js';
import type { TokenService } from './token-service.js';

const ROLE_KEY = 'tunnelkey:role';
const TICKET_KEY = 'tunnelkey:ticket';

/** The least role a route needs. */
export const RequiresRole = (role: Role) => SetMetadata(ROLE_KEY, role);
/** The route also accepts a short-lived `?ticket=` (EventSource cannot send an Authorization header). */
export const AcceptsTicket = () => SetMetadata(TICKET_KEY, true);

/** 401 without a valid token, 403 when its role is below the route's. Sets the request's principal. */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(TOKEN_SERVICE) private readonly tokens: TokenService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const required =
      this.reflector.getAllAndOverride<Role | undefined>(ROLE_KEY, [context.getHandler(), context.getClass()]) ??
      'admin';
    const request = context.switchToHttp().getRequest<GatewayRequest>();
    const header = request.headers.authorization;
    const bearer =
      typeof header === 'string' && /^Bearer\s+/i.test(header) ? header.replace(/^Bearer\s+/i, '').trim() : undefined;
    const ticket = typeof request.query?.ticket === 'string' ? request.query.ticket : undefined;
    const acceptsTicket = this.reflector.getAllAndOverride<boolean | undefined>(TICKET_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    const principal =
      !bearer && ticket && acceptsTicket
        ? await this.tokens.verifyTicket(ticket)
        : await this.tokens.authenticate(bearer);
    request.principal = principal;
    if (!allows(principal.role, required))
      throw new Forbidden(`this needs the ${required} role; the token has ${principal.role}`);
    return true;
  }
}
