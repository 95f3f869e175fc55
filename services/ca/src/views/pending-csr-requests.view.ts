/**
 * Query: which CSR requests has the CA sent that nobody answered yet? Folded from the CA's log in
 * a LiveView (checkpointed), rebuilt at start: a CsrRequested (`ca.csr-request.*`) is pending until a
 * CertificateIssued or CertificateRejected with its requestId (`ca.device.*`, whichever instance
 * handled the CSR), its CsrRequestExpired, or the device's CertificationRevoked. One source, the
 * whole `ca` stream, so a request is always folded before its answer (it is recorded before it is
 * sent). CertifyDevices' window listens to it (`onSettled`) to free a slot, and a restarted
 * instance resumes what it lists.
 *
 * It also lists the requests queued and not asked yet: a CertifyDevices' devices
 * (CsrRequestsQueued, recorded before the command is answered) until their CsrRequested, an answer,
 * or the device's CertificationRevoked. An instance that starts asks them, and a survivor asks
 * those queued long ago, so a crash loses none of a command's devices.
 */
import {
  CertificateIssued,
  CertificateRejected,
  CertificationRevoked,
  CsrRequestExpired,
  CsrRequested,
  CsrRequestsQueued,
  type DataOf,
  type EventEnvelope,
} from '@tunnelkey/contracts';
import { LiveView, type EventStore } from '@tunnelkey/eventstore';
import { InMemoryView } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { certificationRequestId } from '../certify-devices/certification.decider.js';

export interface PendingCsrRequest {
  deviceId: string;
  requestId: string;
  keyId: string;
  expiresAt: string;
  /** The CertifyDevices command the request came from. */
  correlationId: string;
}

/** A request a CertifyDevices queued and no instance has recorded as asked yet. */
export interface QueuedCsrRequest {
  deviceId: string;
  requestId: string;
  keyId: string;
  correlationId: string;
  /** When the command was accepted. */
  queuedAt: string;
}

/** Both by requestId, in log order (a Map keeps insertion order). */
export interface PendingCsrRequestsState {
  pending: Map<string, PendingCsrRequest>;
  queued: Map<string, QueuedCsrRequest>;
}

export type SettledListener = (requestId: string, how: 'answered' | 'expired' | 'revoked') => void;

export class PendingCsrRequestsView extends InMemoryView<PendingCsrRequestsState> {
  static readonly viewName = 'ca-pending-csr-requests';

  private constructor(
    view: LiveView<PendingCsrRequestsState>,
    private readonly listeners: Set<SettledListener>,
  ) {
    super(view);
  }

  static async start(store: EventStore, logger: Logger): Promise<PendingCsrRequestsView> {
    const listeners = new Set<SettledListener>();
    const settle = (state: PendingCsrRequestsState, requestId: string, how: Parameters<SettledListener>[1]) => {
      state.queued.delete(requestId);
      if (!state.pending.delete(requestId)) return;
      for (const listener of listeners) listener(requestId, how);
    };
    const view = await LiveView.start<PendingCsrRequestsState>(
      store,
      {
        name: PendingCsrRequestsView.viewName,
        sources: [{ context: 'ca' }],
        // Checkpointed: a restart loads the newest checkpoint and replays only what follows. Bump the version
        // when the state or evolve changes.
        checkpoint: { owner: 'ca', version: 2 },
        initialState: () => ({ pending: new Map(), queued: new Map() }),
        evolve(state, { event }) {
          foldPending(state, event, settle);
          return state;
        },
      },
      { logger },
    );
    return new PendingCsrRequestsView(view, listeners);
  }

  /** Every pending request, oldest first. */
  pending(): PendingCsrRequest[] {
    return [...this.state.pending.values()];
  }

  /** Every request queued and not asked yet, oldest first. */
  queued(): QueuedCsrRequest[] {
    return [...this.state.queued.values()];
  }

  get size(): number {
    return this.state.pending.size;
  }

  isPending(requestId: string): boolean {
    return this.state.pending.has(requestId);
  }

  /** Called once per request leaving the pending set; returns the unsubscribe. */
  onSettled(listener: SettledListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

type Data<E> = DataOf<E>;

/**
 * Folds one CA event (in place). The store has already validated each event against
 * its contract, so it dispatches on the type alone (a schema check per certificate would cost).
 */
export function foldPending(
  state: PendingCsrRequestsState,
  event: EventEnvelope,
  settle: (state: PendingCsrRequestsState, requestId: string, how: Parameters<SettledListener>[1]) => void,
): void {
  switch (event.type) {
    case CsrRequestsQueued.type: {
      const { commandId, keyId, deviceIds } = event.data as Data<typeof CsrRequestsQueued>;
      for (const deviceId of deviceIds) {
        const requestId = certificationRequestId(commandId, deviceId);
        if (state.pending.has(requestId)) continue;
        state.queued.set(requestId, {
          deviceId,
          requestId,
          keyId,
          correlationId: event.correlationId,
          queuedAt: event.occurredAt,
        });
      }
      break;
    }
    case CsrRequested.type: {
      const { deviceId, requestId, keyId, expiresAt } = event.data as Data<typeof CsrRequested>;
      state.queued.delete(requestId);
      state.pending.set(requestId, { deviceId, requestId, keyId, expiresAt, correlationId: event.correlationId });
      break;
    }
    case CertificateIssued.type:
    case CertificateRejected.type:
      settle(state, (event.data as Data<typeof CertificateIssued>).requestId, 'answered');
      break;
    case CsrRequestExpired.type:
      settle(state, (event.data as Data<typeof CsrRequestExpired>).requestId, 'expired');
      break;
    case CertificationRevoked.type: {
      const { deviceId } = event.data as Data<typeof CertificationRevoked>;
      for (const queued of [...state.queued.values()])
        if (queued.deviceId === deviceId) state.queued.delete(queued.requestId);
      for (const pending of [...state.pending.values()])
        if (pending.deviceId === deviceId) settle(state, pending.requestId, 'revoked');
      break;
    }
    default:
      break;
  }
}
