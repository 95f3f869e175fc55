import { Controller, Get, Inject, Param, Query, UseGuards } from '@nestjs/common';
import { AuthGuard, RequiresRole } from '../auth/auth.guard.js';
import { expressPath as p } from '../commands/command-routes.js';
import type { GatewayRuntime } from '../gateway-runtime.js';
import { GATEWAY_RUNTIME } from '../tokens.js';
import { batchProgress, listBatches } from './batch-progress/batch-progress.query.js';
import { listPolicies, listTargets, policy, target } from './catalog/catalog.query.js';
import { deviceDetail } from './device-detail/device-detail.query.js';
import { deviceHistory } from './device-history/device-history.query.js';
import { deviceListFilterOf, listDevices } from './device-list/device-list.query.js';
import { idParam, pageOf } from './paging.js';
import { queryRoutes as q } from './query-routes.js';

/** The console's read side: answered from the read models, paged and filtered on the server. */
@Controller()
@UseGuards(AuthGuard)
@RequiresRole('viewer')
export class QueriesController {
  constructor(@Inject(GATEWAY_RUNTIME) private readonly runtime: GatewayRuntime) {}

  @Get(p(q.batches.path))
  batches(@Query() query: Record<string, unknown>) {
    return listBatches(this.runtime.readModels.store, pageOf(query));
  }

  @Get(p(q.batch.path))
  batch(@Param('batchId') batchId: string) {
    return batchProgress(this.runtime.readModels.store, idParam(batchId, 'batchId'));
  }

  @Get(p(q.devices.path))
  devices(@Query() query: Record<string, unknown>) {
    return listDevices(this.runtime.readModels.store, deviceListFilterOf(query));
  }

  @Get(p(q.device.path))
  device(@Param('deviceId') deviceId: string) {
    return deviceDetail(this.runtime.readModels.store, idParam(deviceId, 'deviceId'));
  }

  @Get(p(q.deviceHistory.path))
  async history(@Param('deviceId') deviceId: string) {
    return { deviceId, events: await deviceHistory(this.runtime.eventStore, idParam(deviceId, 'deviceId')) };
  }

  @Get(p(q.policies.path))
  policies(@Query() query: Record<string, unknown>) {
    return listPolicies(this.runtime.readModels.store, pageOf(query));
  }

  @Get(p(q.policy.path))
  policy(@Param('policyId') policyId: string) {
    return policy(this.runtime.readModels.store, idParam(policyId, 'policyId'));
  }

  @Get(p(q.targets.path))
  targets(@Query() query: Record<string, unknown>) {
    return listTargets(this.runtime.readModels.store, pageOf(query));
  }

  @Get(p(q.target.path))
  target(@Param('targetId') targetId: string) {
    return target(this.runtime.readModels.store, idParam(targetId, 'targetId'));
  }
}
