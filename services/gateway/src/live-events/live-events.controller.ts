import { Controller, Inject, Query, Req, Sse, UseGuards, type MessageEvent } from '@nestjs/common';
import { concat, defer, EMPTY, filter, interval, map, merge, of, type Observable } from 'rxjs';
import { AcceptsTicket, AuthGuard, RequiresRole } from '../auth/auth.guard.js';
import type { GatewayRequest } from '../observability/request-context.js';
import { optionalIdParam } from '../queries/paging.js';
import { FLEET_PULSE, LIVE_UPDATES, READ_MODELS } from '../tokens.js';
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

/**
 * Server-sent events for the console: `hello` once, then `device`, `batch`, `devices-changed` and
 * `catalog` updates, and a `ping` every 15 s so proxies keep the stream open; unless the stream is
 * of one batch, `fleet` carries the dashboard's samples (the kept ones at once, then each new one).
 * Authenticated by an Authorization header or by a one-minute ticket from POST /api/sse-tickets
 * (EventSource cannot send headers; a ticket in the URL expires before a log line holding it is
 * worth anything, and unlike a cookie it cannot be ridden by a cross-site request to the command
 * routes).
 */
@Controller()
@UseGuards(AuthGuard)
@RequiresRole('viewer')
export class LiveEventsController {
  constructor(
    @Inject(LIVE_UPDATES) private readonly live: LiveUpdates,
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
    @Inject(FLEET_PULSE) private readonly pulse: FleetPulse,
  ) {}

  @Sse('events')
  @AcceptsTicket()
  events(@Req() request: GatewayRequest, @Query() query: Record<string, unknown>): Observable<MessageEvent> {
    const batchId = optionalIdParam(query, 'batchId');
    const { name, role } = request.principal!;
    return merge(
      of<MessageEvent>({ type: 'hello', data: { name, role, ready: this.readModels.ready } }),
      this.live.updates.pipe(
        filter((update) => inBatch(update, batchId)),
        map((update): MessageEvent => ({ type: update.type, data: update.data })),
      ),
      batchId ? EMPTY : this.#fleet(),
      interval(15_000).pipe(map((): MessageEvent => ({ type: 'ping', data: {} }))),
    );
  }

  #fleet(): Observable<MessageEvent> {
    return concat(
      defer(() => of<MessageEvent>({ type: 'fleet', data: { samples: this.pulse.samples() } })),
      this.pulse.updates.pipe(map((sample): MessageEvent => ({ type: 'fleet', data: { samples: [sample] } }))),
    );
  }
}
