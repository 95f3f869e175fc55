/**
 * Query: what an authority's next CRL lists, and which CRL is its current one. Folded from the
 * CA's own log (CertificateRevoked, CrlPublished) in a LiveView, rebuilt at start. Keyed by serial,
 * so folding an event twice (our own append noted at once, then its delivery) changes nothing.
 */
import {
  CertificateRenewalCompleted,
  CertificateRevoked,
  CrlPublished,
  type DataOf,
  type RevocationReason,
} from '@tunnelkey/contracts';
import { LiveView, type EventStore } from '@tunnelkey/eventstore';
import { InMemoryView } from '@tunnelkey/messaging';
import type { Logger } from 'pino';

export interface RevokedEntry {
  serialNumber: string;
  revokedAt: string;
  reason: RevocationReason;
}

export type CrlData = DataOf<typeof CrlPublished>;

export interface RevokedCertificatesState {
  byAuthority: Map<string, Map<string, RevokedEntry>>;
  currentCrl: Map<string, CrlData>;
}

export function foldRevoked(
  state: RevokedCertificatesState,
  data: Pick<DataOf<typeof CertificateRevoked>, 'authorityId' | 'serialNumber' | 'revokedAt' | 'reason'>,
): void {
  let entries = state.byAuthority.get(data.authorityId);
  if (!entries) state.byAuthority.set(data.authorityId, (entries = new Map()));
  // The first revocation of a serial is the one a CRL keeps (its date and reason).
  if (!entries.has(data.serialNumber))
    entries.set(data.serialNumber, { serialNumber: data.serialNumber, revokedAt: data.revokedAt, reason: data.reason });
}

/** A renewed device's previous certificate, revoked once it switched: listed as superseded (the device is not revoked). */
export function foldSuperseded(state: RevokedCertificatesState, previous: SupersededCertificate): void {
  foldRevoked(state, { ...previous, reason: 'superseded' });
}

export type SupersededCertificate = DataOf<typeof CertificateRenewalCompleted>['revokedPrevious'];

export function foldCrl(state: RevokedCertificatesState, data: CrlData): void {
  const current = state.currentCrl.get(data.authorityId);
  if (!current || current.crlNumber < data.crlNumber) state.currentCrl.set(data.authorityId, data);
}

export class RevokedCertificatesView extends InMemoryView<RevokedCertificatesState> {
  static readonly viewName = 'ca-revoked-certificates';

  private constructor(view: LiveView<RevokedCertificatesState>) {
    super(view);
  }

  static async start(store: EventStore, logger: Logger): Promise<RevokedCertificatesView> {
    const view = await LiveView.start<RevokedCertificatesState>(
      store,
      {
        name: RevokedCertificatesView.viewName,
        sources: [{ context: 'ca' }],
        // Checkpointed: a restart loads the newest checkpoint and replays only what follows. Bump the version
        // when the state or evolve changes.
        // 2: renewals' superseded certificates (CertificateRenewalCompleted) are listed too.
        checkpoint: { owner: 'ca', version: 2 },
        initialState: () => ({ byAuthority: new Map(), currentCrl: new Map() }),
        evolve(state, { event }) {
          if (CertificateRevoked.is(event)) foldRevoked(state, event.data);
          else if (CertificateRenewalCompleted.is(event)) foldSuperseded(state, event.data.revokedPrevious);
          else if (CrlPublished.is(event)) foldCrl(state, event.data);
          return state;
        },
      },
      { logger },
    );
    return new RevokedCertificatesView(view);
  }

  /** What the authority's next CRL lists. */
  revoked(authorityId: string): RevokedEntry[] {
    return [...(this.state.byAuthority.get(authorityId)?.values() ?? [])];
  }

  /** The authority's current CRL, if it published one. */
  currentCrl(authorityId: string): CrlData | undefined {
    return this.state.currentCrl.get(authorityId);
  }

  /** Every authority's current CRL. */
  currentCrls(): CrlData[] {
    return [...this.state.currentCrl.values()];
  }

  /** Folds a revocation this instance just appended, so its next CRL lists it without waiting for delivery. */
  noteRevoked(data: DataOf<typeof CertificateRevoked>): void {
    foldRevoked(this.state, data);
  }

  /** Folds a superseded certificate this instance just recorded, so its next CRL lists it. */
  noteSuperseded(previous: SupersededCertificate): void {
    foldSuperseded(this.state, previous);
  }

  /** Folds a CRL this instance just published, so it is served at once. */
  notePublished(data: CrlData): void {
    foldCrl(this.state, data);
  }
}
