/**
 * Query: what the next CRL of an authority lists, and which CRL is its current one. Folded from
 * the CA's own log (CertificateRevoked, CrlPublished); in-process and mutable, rebuilt at start.
 * Keyed by serial, so folding an event twice (our own append, then its delivery) changes nothing.
 */
import { CertificateRevoked, CrlPublished, type DataOf, type RevocationReason } from '@tunnelkey/contracts';
import type { ProjectionDefinition } from '@tunnelkey/eventstore';

export interface RevokedEntry {
  serialNumber: string;
  revokedAt: string;
  reason: RevocationReason;
}

export interface RevokedCertificatesState {
  byAuthority: Map<string, Map<string, RevokedEntry>>;
  currentCrl: Map<string, DataOf<typeof CrlPublished>>;
}

export function foldRevoked(state: RevokedCertificatesState, data: DataOf<typeof CertificateRevoked>): void {
  let entries = state.byAuthority.get(data.authorityId);
  if (!entries) state.byAuthority.set(data.authorityId, (entries = new Map()));
  // The first revocation of a serial is the one a CRL keeps (its date and reason).
  if (!entries.has(data.serialNumber)) entries.set(data.serialNumber, { serialNumber: data.serialNumber, revokedAt: data.revokedAt, reason: data.reason });
}

export function foldCrl(state: RevokedCertificatesState, data: DataOf<typeof CrlPublished>): void {
  const current = state.currentCrl.get(data.authorityId);
  if (!current || current.crlNumber < data.crlNumber) state.currentCrl.set(data.authorityId, data);
}

export const revokedCertificatesProjection: ProjectionDefinition<RevokedCertificatesState> = {
  name: 'ca-revoked-certificates',
  context: 'ca',
  initialState: () => ({ byAuthority: new Map(), currentCrl: new Map() }),
  evolve(state, { event }) {
    if (CertificateRevoked.is(event)) foldRevoked(state, event.data);
    else if (CrlPublished.is(event)) foldCrl(state, event.data);
    return state;
  },
};
