/**
 * Query: which revocation requests wait in the log behind the one being applied? Followed in
 * process (a LiveView over the revocation context's requests): the reaction that applies one
 * request takes the ones queued behind it along, so a burst of n revocations costs one CRL, not n.
 */
import { RevocationRequested, type EventOf } from '@tunnelkey/contracts';
import { LiveView, type EventStore } from '@tunnelkey/eventstore';
import { InMemoryView } from '@tunnelkey/messaging';
import type { Logger } from 'pino';

export type RevocationRequest = EventOf<typeof RevocationRequested>;

export interface PendingRequest {
  sequence: number;
  request: RevocationRequest;
}

/** In log order (a Map keeps insertion order), by revocation id. */
export type PendingRevocationRequestsState = Map<string, PendingRequest>;

export class PendingRevocationRequestsView extends InMemoryView<PendingRevocationRequestsState> {
  static readonly viewName = 'ca-pending-revocation-requests';

  private constructor(view: LiveView<PendingRevocationRequestsState>) {
    super(view);
  }

  static async start(store: EventStore, logger: Logger): Promise<PendingRevocationRequestsView> {
    const view = await LiveView.start<PendingRevocationRequestsState>(
      store,
      {
        name: PendingRevocationRequestsView.viewName,
        sources: [{ context: 'revocation', aggregate: 'revocation' }],
        // Checkpointed: a restart loads the newest checkpoint and replays only what follows. Bump the version
        // when the state or evolve changes.
        checkpoint: { owner: 'ca', version: 1 },
        initialState: () => new Map(),
        evolve(state, recorded) {
          if (RevocationRequested.is(recorded.event))
            state.set(recorded.event.data.revocationId, { sequence: recorded.sequence, request: recorded.event });
          return state;
        },
      },
      { logger },
    );
    return new PendingRevocationRequestsView(view);
  }

  /** Requests after `sequence`, in log order, while their devices and `devices` fit in `maxDevices`. */
  behind(sequence: number, devices: number, maxDevices: number): RevocationRequest[] {
    const taken: RevocationRequest[] = [];
    for (const waiting of this.state.values()) {
      if (waiting.sequence <= sequence) continue;
      if ((devices += waiting.request.data.deviceIds.length) > maxDevices) break;
      taken.push(waiting.request);
    }
    return taken;
  }

  /** Forgets every request up to `sequence` (delivered, hence applied, in log order). */
  forgetUpTo(sequence: number): void {
    for (const [revocationId, waiting] of this.state) if (waiting.sequence <= sequence) this.state.delete(revocationId);
  }

  /** Forgets requests applied ahead of their turn. */
  forget(revocationIds: Iterable<string>): void {
    for (const revocationId of revocationIds) this.state.delete(revocationId);
  }
}
