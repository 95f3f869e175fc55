import { Body, Controller, HttpCode, Inject, Param, Post, Req, UseGuards } from '@nestjs/common';
import { AuthGuard, RequiresRole } from '../auth/auth.guard.js';
import type { GatewayRequest } from '../observability/request-context.js';
import { GATEWAY_RUNTIME } from '../tokens.js';
import type { GatewayRuntime } from '../gateway-runtime.js';
import { commandRoutes as r, expressPath as p, type CommandRouteName } from './command-routes.js';
import type { CommandContext } from './command-sender.js';
import { importIdentities } from './import-identities/import-identities.js';

export function commandContextOf(request: GatewayRequest): CommandContext {
  const key = request.headers['idempotency-key'];
  return {
    principal: request.principal!,
    correlationId: request.correlationId!,
    ...(typeof key === 'string' ? { idempotencyKey: key } : {}),
  };
}

/**
 * One route per operator command (paths, roles and statuses from `commandRoutes`). Each checks
 * the body against the command's contract and sends it to the owning service over NATS.
 */
@Controller()
@UseGuards(AuthGuard)
export class CommandsController {
  constructor(@Inject(GATEWAY_RUNTIME) private readonly runtime: GatewayRuntime) {}

  #run(name: CommandRouteName, request: GatewayRequest, body: unknown, params: Record<string, string> = {}) {
    return this.runtime.commands.run(r[name], body, params, commandContextOf(request));
  }

  @Post(p(r.DefineServerPolicy.path))
  @RequiresRole(r.DefineServerPolicy.role)
  @HttpCode(r.DefineServerPolicy.status)
  defineServerPolicy(@Req() request: GatewayRequest, @Body() body: unknown) {
    return this.#run('DefineServerPolicy', request, body);
  }

  @Post(p(r.RegisterTarget.path))
  @RequiresRole(r.RegisterTarget.role)
  @HttpCode(r.RegisterTarget.status)
  registerTarget(@Req() request: GatewayRequest, @Body() body: unknown) {
    return this.#run('RegisterTarget', request, body);
  }

  @Post(p(r.CreateIssuingAuthority.path))
  @RequiresRole(r.CreateIssuingAuthority.role)
  @HttpCode(r.CreateIssuingAuthority.status)
  createIssuingAuthority(@Req() request: GatewayRequest, @Body() body: unknown) {
    return this.#run('CreateIssuingAuthority', request, body);
  }

  @Post(p(r.CreateBatch.path))
  @RequiresRole(r.CreateBatch.role)
  @HttpCode(r.CreateBatch.status)
  createBatch(@Req() request: GatewayRequest, @Body() body: unknown) {
    return this.#run('CreateBatch', request, body);
  }

  @Post(p(r.ImportIdentities.path))
  @RequiresRole(r.ImportIdentities.role)
  @HttpCode(r.ImportIdentities.status)
  importIdentities(@Req() request: GatewayRequest, @Param('batchId') batchId: string, @Body() body: unknown) {
    return importIdentities(this.runtime.commands, batchId, body, String(request.headers['content-type'] ?? ''), request.query, commandContextOf(request));
  }

  @Post(p(r.RequestEnrolmentKeys.path))
  @RequiresRole(r.RequestEnrolmentKeys.role)
  @HttpCode(r.RequestEnrolmentKeys.status)
  requestEnrolmentKeys(@Req() request: GatewayRequest, @Param('batchId') batchId: string, @Body() body: unknown) {
    return this.#run('RequestEnrolmentKeys', request, body, { batchId });
  }

  @Post(p(r.VerifyIdentity.path))
  @RequiresRole(r.VerifyIdentity.role)
  @HttpCode(r.VerifyIdentity.status)
  verifyIdentity(@Req() request: GatewayRequest, @Body() body: unknown) {
    return this.#run('VerifyIdentity', request, body);
  }

  @Post(p(r.CertifyDevices.path))
  @RequiresRole(r.CertifyDevices.role)
  @HttpCode(r.CertifyDevices.status)
  certifyDevices(@Req() request: GatewayRequest, @Body() body: unknown) {
    return this.#run('CertifyDevices', request, body);
  }

  @Post(p(r.OnboardBatch.path))
  @RequiresRole(r.OnboardBatch.role)
  @HttpCode(r.OnboardBatch.status)
  onboardBatch(@Req() request: GatewayRequest, @Param('batchId') batchId: string, @Body() body: unknown) {
    return this.#run('OnboardBatch', request, body, { batchId });
  }

  @Post(p(r.OnboardDevice.path))
  @RequiresRole(r.OnboardDevice.role)
  @HttpCode(r.OnboardDevice.status)
  onboardDevice(@Req() request: GatewayRequest, @Param('deviceId') deviceId: string, @Body() body: unknown) {
    return this.#run('OnboardDevice', request, body, { deviceId });
  }

  @Post(p(r.RevokeDevice.path))
  @RequiresRole(r.RevokeDevice.role)
  @HttpCode(r.RevokeDevice.status)
  revokeDevice(@Req() request: GatewayRequest, @Param('deviceId') deviceId: string, @Body() body: unknown) {
    return this.#run('RevokeDevice', request, body, { deviceId });
  }

  @Post(p(r.RevokeBatch.path))
  @RequiresRole(r.RevokeBatch.role)
  @HttpCode(r.RevokeBatch.status)
  revokeBatch(@Req() request: GatewayRequest, @Param('batchId') batchId: string, @Body() body: unknown) {
    return this.#run('RevokeBatch', request, body, { batchId });
  }

  @Post(p(r.TransferOwnership.path))
  @RequiresRole(r.TransferOwnership.role)
  @HttpCode(r.TransferOwnership.status)
  transferOwnership(@Req() request: GatewayRequest, @Body() body: unknown) {
    return this.#run('TransferOwnership', request, body);
  }
}
