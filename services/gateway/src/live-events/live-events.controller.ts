import { Controller, Inject, Query, Req, Sse, UseGuards, type MessageEvent } from '@nestjs/common';
import { concat, concatMap, defer, EMPTY, filter, interval, map, merge, of, type Observable } from 'rxjs';
import { AcceptsTicket, AuthGuard, RequiresRole } from '../auth/auth.guard.js';
import type { GatewayRequest } from '../observability/request-context.js';
import { optionalIdParam } from '../queries/paging.js';
import type { Principal } from '../auth/roles.js';
import { mayAccess } from '../owners/owner-access.js';
import type { OwnershipCheck } from '../owners/ownership.js';
import { FLEET_PULSE, LIVE_UPDATES, OWNERSHIP, READ_MODELS } from '../tokens.js';
import type { ReadModels } from '../views/read-models.js';
import type { FleetPulse } from './fleet-pulse.js';
import type { LiveUpdate, LiveUpdates } from './live-updates.js';

function inBatch(update: LiveUpdate, batchId: string | undefined): boolean {
  if (!batchId) return true;
  if (update.type === 'device') return update.data.batchId === batchId;
  if (update.type === 'batch') return update.data.batchId === batchId;
  if (update.type === 'devices-changed') return update.data.batchIds.includes(batchId);
  return true;
}

/** What goes on the wire: the per-batch counts of `devices-changed` stay in the gateway. */
function publicData(update: LiveUpdate): object {
  if (update.type !== 'devices-changed') return update.data;
  const { perBatch: _kept, ...data } = update.data;
  return data;
}

/**
 * Server-sent events for the console: `hello` once, then `device`, `batch`, `devices-changed` and
 * `catalog` updates, and a `ping` every 15 s so proxies keep the stream open; unless the stream is
 * of one batch, `fleet` carries the dashboard's samples (the kept ones at once, then each new one).
 * Authenticated by an Authorization header or by a one-minute ticket from POST /api/sse-tickets
 * (EventSource cannot send headers; a ticket in the URL expires before a log line holding it is
 * worth anything, and unlike a cookie it cannot be ridden by a cross-site request to the command
 * routes). A stream shows the caller's owner's devices and batches only; `fleet` (the whole
 * platform's numbers) goes to platform admins only.
 */
@Controller()
@UseGuards(AuthGuard)
@RequiresRole('viewer')
export class LiveEventsController {
  constructor(
    @Inject(LIVE_UPDATES) private readonly live: LiveUpdates,
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
    @Inject(FLEET_PULSE) private readonly pulse: FleetPulse,
    @Inject(OWNERSHIP) private readonly ownership: OwnershipCheck,
  ) {}

  @Sse('events')
  @AcceptsTicket()
  events(@Req() request: GatewayRequest, @Query() query: Record<string, unknown>): Observable<MessageEvent> {
    const batchId = optionalIdParam(query, 'batchId');
    const caller = request.principal!;
    const { name, role, ownerId, allOwners } = caller;
    return merge(
      of<MessageEvent>({ type: 'hello', data: { name, role, ownerId, allOwners, ready: this.readModels.ready } }),
      this.live.updates.pipe(
        filter((update) => inBatch(update, batchId)),
        // In order: an owner's device update must not overtake the batch update that follows it.
        concatMap((update) => this.#own(caller, update)),
        filter((update): update is LiveUpdate => update !== undefined),
        map((update): MessageEvent => ({ type: update.type, data: publicData(update) })),
      ),
      // The fleet's numbers over time are the whole platform's: a platform admin's dashboard.
      batchId || !allOwners ? EMPTY : this.#fleet(),
      interval(15_000).pipe(map((): MessageEvent => ({ type: 'ping', data: {} }))),
    );
  }

  /** The update as the caller may see it: its owner's devices and batches only (undefined: none of it). */
  async #own(caller: Principal, update: LiveUpdate): Promise<LiveUpdate | undefined> {
    if (caller.allOwners) return update;
    const directory = this.ownership.directory;
    switch (update.type) {
      case 'device':
        return mayAccess(caller, await directory.ownerOfBatch(update.data.batchId)) ? update : undefined;
      case 'batch':
        return mayAccess(caller, update.data.ownerId) ? update : undefined;
      case 'devices-changed': {
        const owners = await Promise.all(update.data.batchIds.map((id) => directory.ownerOfBatch(id)));
        const batchIds = update.data.batchIds.filter((_, i) => mayAccess(caller, owners[i]));
        if (batchIds.length === 0) return undefined;
        const count = batchIds.reduce((sum, id) => sum + (update.data.perBatch?.[id] ?? 0), 0);
        return { type: 'devices-changed', data: { count, batchIds } };
      }
      case 'catalog':
        // A hint to refetch the (filtered) policy and target lists; it names nothing.
        return update;
    }
  }

  #fleet(): Observable<MessageEvent> {
    return concat(
      defer(() => of<MessageEvent>({ type: 'fleet', data: { samples: this.pulse.samples() } })),
      this.pulse.updates.pipe(map((sample): MessageEvent => ({ type: 'fleet', data: { samples: [sample] } }))),
    );
  }
}
