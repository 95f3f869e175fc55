import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Req, UseGuards } from '@nestjs/common';
import type { GatewayRequest } from '../observability/request-context.js';
import { TOKEN_SERVICE } from '../tokens.js';
import { AuthGuard, RequiresRole } from './auth.guard.js';
import type { TokenService } from './token-service.js';

/** Token management (admin), who-am-I and SSE tickets (any role). */
@Controller('api')
@UseGuards(AuthGuard)
export class TokensController {
  constructor(@Inject(TOKEN_SERVICE) private readonly tokens: TokenService) {}

  @Get('tokens')
  @RequiresRole('admin')
  list(@Req() request: GatewayRequest) {
    return this.tokens.list(request.principal!).then((items) => ({ items }));
  }

  /** The token is in this answer only; the gateway keeps its SHA-256. */
  @Post('tokens')
  @RequiresRole('admin')
  @HttpCode(201)
  issue(
    @Req() request: GatewayRequest,
    @Body() body: { name?: unknown; role?: unknown; ownerId?: unknown; allOwners?: unknown } | undefined,
  ) {
    return this.tokens.issue(body?.name, body?.role, request.principal!, {
      ownerId: body?.ownerId,
      allOwners: body?.allOwners,
    });
  }

  @Delete('tokens/:tokenId')
  @RequiresRole('admin')
  revoke(@Req() request: GatewayRequest, @Param('tokenId') tokenId: string) {
    return this.tokens.revoke(tokenId, request.principal!);
  }

  @Get('whoami')
  @RequiresRole('viewer')
  whoami(@Req() request: GatewayRequest) {
    const { name, role, tokenId, ownerId, allOwners } = request.principal!;
    return { name, role, tokenId, ownerId, allOwners };
  }

  @Post('sse-tickets')
  @RequiresRole('viewer')
  @HttpCode(201)
  ticket(@Req() request: GatewayRequest) {
    return this.tokens.ticket(request.principal!);
  }
}
