/**
 * `GET /events/rollouts/{rolloutId}`: a rollout's progress as server-sent events, for the console's
 * rollout page. `rollout` carries DescribeRollout's answer (per wave and per device, with reasons)
 * whenever it changed, checked every second; the stream ends after the rollout completed or was
 * aborted. `rollout-error` says why progress could not be read (an unknown rollout: the stream
 * ends; the OTA service not answering: it goes on trying). Authenticated as /events (a header, or a
 * one-minute ticket from POST /api/sse-tickets), viewer role.
 */
import { Controller, Inject, Param, Req, Sse, UseGuards, type MessageEvent } from '@nestjs/common';
import type { DescribeRollout, ResultOf } from '@tunnelkey/contracts';
import { catchError, distinctUntilChanged, exhaustMap, from, map, of, takeWhile, timer, type Observable } from 'rxjs';
import { AcceptsTicket, AuthGuard, RequiresRole } from '../auth/auth.guard.js';
import { commandContextOf } from '../commands/commands.controller.js';
import type { CommandSender } from '../commands/command-sender.js';
import { otaCommandRoutes } from '../commands/ota-routes.js';
import type { GatewayRequest } from '../observability/request-context.js';
import { idParam } from '../queries/paging.js';
import { COMMAND_SENDER } from '../tokens.js';

type Progress = ResultOf<typeof DescribeRollout>;
type Read = { progress: Progress } | { error: { code: string; reason?: string; message: string }; final: boolean };

/** How often the rollout's progress is read. */
const everyMs = 1_000;

@Controller()
@UseGuards(AuthGuard)
@RequiresRole('viewer')
export class RolloutEventsController {
  constructor(@Inject(COMMAND_SENDER) private readonly sender: CommandSender) {}

  @Sse('events/rollouts/:rolloutId')
  @AcceptsTicket()
  events(@Req() request: GatewayRequest, @Param('rolloutId') rolloutIdParam: string): Observable<MessageEvent> {
    const rolloutId = idParam(rolloutIdParam, 'rolloutId');
    const context = commandContextOf(request);
    const route = otaCommandRoutes.DescribeRollout;
    const read = (): Observable<Read> =>
      from(
        this.sender.send<Progress>(
          route,
          this.sender.payloadOf(route.command, {}, { rolloutId }, this.sender.commandIdOf(context), context),
          context,
        ),
      ).pipe(
        map((progress): Read => ({ progress })),
        catchError((error: unknown) => {
          const { code = 'UNAVAILABLE', reason, message = 'progress not readable' } = error as Record<string, string>;
          const described = { code, ...(reason ? { reason } : {}), message };
          return of<Read>({ error: described, final: reason === 'unknown-rollout' });
        }),
      );
    return timer(0, everyMs).pipe(
      exhaustMap(read),
      map((r) => ({ r, text: JSON.stringify(r) })),
      distinctUntilChanged((a, b) => a.text === b.text),
      takeWhile(({ r }) => ('progress' in r ? ['running', 'paused'].includes(r.progress.status) : !r.final), true),
      map(
        ({ r }): MessageEvent =>
          'progress' in r ? { type: 'rollout', data: r.progress } : { type: 'rollout-error', data: r.error },
      ),
    );
  }
}
