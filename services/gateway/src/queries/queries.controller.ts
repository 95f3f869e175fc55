import { Controller, Get, Inject, Param, Query, UseGuards } from '@nestjs/common';
import type { EventStore } from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import { AuthGuard, RequiresRole } from '../auth/auth.guard.js';
import { expressPath as p } from '../commands/command-routes.js';
import { READ_MODELS } from '../tokens.js';
import type { ReadModels } from '../views/read-models.js';
import { batchProgress, listBatches } from './batch-progress/batch-progress.query.js';
import { listPolicies, listTargets, policy, target } from './catalog/catalog.query.js';
import { deviceDetail } from './device-detail/device-detail.query.js';
import { deviceHistoryPage, historyPageSize } from './device-history/device-history.query.js';
import { deviceListFilterOf, listDevices } from './device-list/device-list.query.js';
import { heldDecisions, heldEnrolments } from './held-enrolments/held-enrolments.query.js';
import { enumParam, idParam, pageOf } from './paging.js';
import { queryRoutes as q } from './query-routes.js';

/** The console's read side: answered from the read models, paged and filtered on the server. */
@Controller()
@UseGuards(AuthGuard)
@RequiresRole('viewer')
export class QueriesController {
  constructor(
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
    @Inject(EVENT_STORE) private readonly events: EventStore,
  ) {}

  @Get(p(q.batches.path))
  batches(@Query() query: Record<string, unknown>) {
    return listBatches(this.readModels.store, pageOf(query));
  }

  @Get(p(q.batch.path))
  batch(@Param('batchId') batchId: string) {
    return batchProgress(this.readModels.store, idParam(batchId, 'batchId'));
  }

  @Get(p(q.heldEnrolments.path))
  heldEnrolments(@Param('batchId') batchId: string, @Query() query: Record<string, unknown>) {
    return heldEnrolments(
      this.events,
      idParam(batchId, 'batchId'),
      pageOf(query),
      enumParam(query, 'decision', heldDecisions),
    );
  }

  @Get(p(q.devices.path))
  devices(@Query() query: Record<string, unknown>) {
    return listDevices(this.readModels.store, deviceListFilterOf(query));
  }

  @Get(p(q.device.path))
  device(@Param('deviceId') deviceId: string) {
    return deviceDetail(this.readModels.store, idParam(deviceId, 'deviceId'));
  }

  @Get(p(q.deviceHistory.path))
  history(@Param('deviceId') deviceId: string, @Query() query: Record<string, unknown>) {
    return deviceHistoryPage(this.readModels.store, idParam(deviceId, 'deviceId'), pageOf(query, historyPageSize));
  }

  @Get(p(q.policies.path))
  policies(@Query() query: Record<string, unknown>) {
    return listPolicies(this.readModels.store, pageOf(query));
  }

  @Get(p(q.policy.path))
  policy(@Param('policyId') policyId: string) {
    return policy(this.readModels.store, idParam(policyId, 'policyId'));
  }

  @Get(p(q.targets.path))
  targets(@Query() query: Record<string, unknown>) {
    return listTargets(this.readModels.store, pageOf(query));
  }

  @Get(p(q.target.path))
  target(@Param('targetId') targetId: string) {
    return target(this.readModels.store, idParam(targetId, 'targetId'));
  }
}
