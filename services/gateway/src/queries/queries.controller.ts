import { Controller, Get, Header, Inject, Optional, Param, Query, Req, UseGuards } from '@nestjs/common';
import type { EventStore } from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import { AuthGuard, RequiresRole } from '../auth/auth.guard.js';
import { routePath as p } from '../commands/command-routes.js';
import type { GatewayRequest } from '../observability/request-context.js';
import { ownerFilterOf } from '../owners/owner-access.js';
import type { OwnershipCheck } from '../owners/ownership.js';
import { OWNERSHIP, READ_MODELS } from '../tokens.js';
import type { ReadModels } from '../views/read-models.js';
import { batchProgress, listBatches } from './batch-progress/batch-progress.query.js';
import { listPolicies, listTargets, policy, target } from './catalog/catalog.query.js';
import { deviceHistoryPage, historyPageSize } from './device-history/device-history.query.js';
import { deviceListFilterOf, listDevicesJson } from './device-list/device-list.query.js';
import { keptDevicesOf, type KeptDevices } from './kept-devices.js';
import { heldDecisions, heldEnrolments } from './held-enrolments/held-enrolments.query.js';
import { enumParam, idParam, pageOf } from './paging.js';
import { queryRoutes as q } from './query-routes.js';

/**
 * The console's read side: answered from the read models, paged and filtered on the server. The
 * auth guard answered 404 already for another owner's batch, device, policy or target; the lists
 * show the caller's owner's only (a platform admin's: every owner's).
 */
@Controller()
@UseGuards(AuthGuard)
@RequiresRole('viewer')
export class QueriesController {
  readonly #kept: KeptDevices;

  constructor(
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
    @Inject(EVENT_STORE) private readonly events: EventStore,
    // Always provided by the gateway module; slice tests of single routes go without.
    @Optional() @Inject(OWNERSHIP) private readonly ownership?: OwnershipCheck,
  ) {
    this.#kept = keptDevicesOf(readModels);
  }

  @Get(p(q.batches.path))
  batches(@Req() request: GatewayRequest, @Query() query: Record<string, unknown>) {
    return listBatches(this.readModels.store, pageOf(query), ownerFilterOf(request.principal!));
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

  // Device routes send the JSON text kept per device (kept-devices.ts), not serialized again.
  @Get(p(q.devices.path))
  @Header('content-type', 'application/json; charset=utf-8')
  async devices(@Req() request: GatewayRequest, @Query() query: Record<string, unknown>) {
    const filter = deviceListFilterOf(query);
    const ownerId = ownerFilterOf(request.principal!);
    if (ownerId !== undefined && !this.ownership)
      throw new Error('no owner directory: the gateway module provides one');
    const batchIds = ownerId === undefined ? undefined : await this.ownership!.directory.batchIdsOf(ownerId);
    return listDevicesJson(this.#kept, this.readModels.store, filter, batchIds);
  }

  @Get(p(q.device.path))
  @Header('content-type', 'application/json; charset=utf-8')
  device(@Req() request: GatewayRequest, @Param('deviceId') deviceId: string) {
    const ownerId = ownerFilterOf(request.principal!);
    return this.#kept.detailJson(
      idParam(deviceId, 'deviceId'),
      ownerId === undefined ? undefined : { ownerId, targetOwnerOf: (ids) => this.#targetOwners(ids) },
    );
  }

  @Get(p(q.deviceHistory.path))
  history(
    @Req() request: GatewayRequest,
    @Param('deviceId') deviceId: string,
    @Query() query: Record<string, unknown>,
  ) {
    const ownerId = ownerFilterOf(request.principal!);
    return deviceHistoryPage(
      this.readModels.store,
      idParam(deviceId, 'deviceId'),
      pageOf(query, historyPageSize),
      ownerId === undefined ? undefined : { ownerId, targetOwnerOf: (ids) => this.#targetOwners(ids) },
    );
  }

  /** The owners of targets (an owner sees a device's facts on its own targets only: owner-era.ts). */
  async #targetOwners(targetIds: readonly string[]): Promise<Map<string, string | undefined>> {
    if (!this.ownership) throw new Error('no owner directory: the gateway module provides one');
    const owners = new Map<string, string | undefined>();
    for (const targetId of targetIds) {
      const ownership = await this.ownership.directory.ownerOf({ kind: 'target', id: targetId });
      owners.set(targetId, ownership.known ? ownership.ownerId : undefined);
    }
    return owners;
  }

  @Get(p(q.policies.path))
  policies(@Req() request: GatewayRequest, @Query() query: Record<string, unknown>) {
    return listPolicies(this.readModels.store, pageOf(query), ownerFilterOf(request.principal!));
  }

  @Get(p(q.policy.path))
  policy(@Param('policyId') policyId: string) {
    return policy(this.readModels.store, idParam(policyId, 'policyId'));
  }

  @Get(p(q.targets.path))
  targets(@Req() request: GatewayRequest, @Query() query: Record<string, unknown>) {
    return listTargets(this.readModels.store, pageOf(query), ownerFilterOf(request.principal!));
  }

  @Get(p(q.target.path))
  target(@Param('targetId') targetId: string) {
    return target(this.readModels.store, idParam(targetId, 'targetId'));
  }
}
