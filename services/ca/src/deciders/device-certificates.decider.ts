/**
 * A device's certificate requests and certificates (`ca.device.<deviceId>`). One subject per
 * device is what lets the event store's concurrency check decide between two CA instances racing
 * on one request. Pure: the signed certificate is made outside and comes in with the command;
 * this decides whether it becomes the request's certificate.
 *
 * A CSR request the CA sent (CsrRequested) lives here too, so its answer and its expiry are decided
 * on one subject: a request expires only while unanswered, and an answer arriving after the expiry
 * is still issued (the request then reads Issued).
 *
 * Revocation is recorded on the same subject (CertificationRevoked, in the append that revokes the
 * certificates): from then on no certificate is recorded for the device, whatever the registry's
 * view says yet, on every instance and after a restart. A certificate appended before it is one the
 * revocation saw, and revoked.
 */
import {
  CertificateIssued,
  CertificateRejected,
  CertificateRevoked,
  CertificationRevoked,
  CsrRequestExpired,
  CsrRequested,
  type DataOf,
  type EventOf,
} from '@tunnelkey/contracts';
import { CommandRejected, type Command, type Decider, type NewEvent } from '@tunnelkey/eventstore';

export type IssuedCertificateData = DataOf<typeof CertificateIssued>;
export type RejectionData = DataOf<typeof CertificateRejected>;
export type CsrRequestData = DataOf<typeof CsrRequested>;
export type CsrRequestExpiryData = DataOf<typeof CsrRequestExpired>;

export type DeviceCertificateEvent =
  | EventOf<typeof CertificateIssued>
  | EventOf<typeof CertificateRejected>
  | EventOf<typeof CertificateRevoked>
  | EventOf<typeof CertificationRevoked>
  | EventOf<typeof CsrRequested>
  | EventOf<typeof CsrRequestExpired>;

export type DeviceCertificateCommand =
  | Command<'RecordIssuedCertificate', IssuedCertificateData>
  | Command<'RecordRejection', RejectionData>
  | Command<'RecordCsrRequest', CsrRequestData>
  | Command<'RecordCsrRequestExpiry', CsrRequestExpiryData>;

export type RequestOutcome =
  /** Asked for by the CA (CsrRequested), not answered yet. */
  | { status: 'Requested'; keyId: string; expiresAt: string }
  /** Asked for, never answered, given up. */
  | { status: 'Expired' }
  | { status: 'Issued'; certificate: IssuedCertificateData }
  | { status: 'Rejected'; reason: RejectionData['reason'] };

export interface DeviceCertificatesState {
  /** Per requestId: where it stands (an issued request stays issued). */
  requests: Record<string, RequestOutcome>;
  revokedSerials: string[];
  /** Set by the first revocation that reached the CA (or, in a log older than CertificationRevoked, the first certificate revoked). */
  revokedBy?: string;
}

export const deviceCertificatesStream = (deviceId: string) => ({
  context: 'ca' as const,
  aggregate: 'device',
  id: deviceId,
});

export const deviceCertificatesDecider: Decider<
  DeviceCertificateCommand,
  DeviceCertificateEvent,
  DeviceCertificatesState
> = {
  initialState: () => ({ requests: {}, revokedSerials: [] }),

  decide(command, state): NewEvent<DeviceCertificateEvent>[] {
    const earlier = state.requests[command.data.requestId];
    switch (command.type) {
      case 'RecordIssuedCertificate': {
        // Fail closed: after a revocation no certificate is recorded, not even a retry's (its certificate is revoked).
        if (state.revokedBy !== undefined)
          throw new CommandRejected('device-revoked', 'the device is revoked', {
            deviceId: command.data.deviceId,
            revocationId: state.revokedBy,
          });
        if (earlier?.status === 'Issued') {
          // One certificate per request: a retry (same key) gets the recorded one; another key is refused.
          if (earlier.certificate.publicKeyDigest === command.data.publicKeyDigest) return [];
          throw new CommandRejected('request-id-reused', 'this request id was already used for another key', {
            requestId: command.data.requestId,
          });
        }
        return [{ type: 'CertificateIssued', version: 1, data: command.data }];
      }
      case 'RecordRejection':
        // A late refusal (e.g. a replayed copy) never overrides a certificate already issued for the request.
        if (earlier?.status === 'Issued') return [];
        if (earlier?.status === 'Rejected' && earlier.reason === command.data.reason) return [];
        return [{ type: 'CertificateRejected', version: 1, data: command.data }];
      case 'RecordCsrRequest':
        // A revoked device is asked for nothing; a request recorded before (pending, answered or given up) once.
        if (state.revokedBy !== undefined)
          throw new CommandRejected('device-revoked', 'the device is revoked', {
            deviceId: command.data.deviceId,
            revocationId: state.revokedBy,
          });
        if (earlier) return [];
        return [{ type: 'CsrRequested', version: 1, data: command.data }];
      case 'RecordCsrRequestExpiry':
        // Only an unanswered request expires: an answer recorded first wins.
        if (earlier?.status !== 'Requested') return [];
        return [{ type: 'CsrRequestExpired', version: 1, data: command.data }];
      default: {
        const unknown: never = command;
        throw new CommandRejected('unknown-command', `unknown command ${(unknown as Command).type}`);
      }
    }
  },

  evolve(state, event): DeviceCertificatesState {
    switch (event.type) {
      case 'CertificateIssued':
        return {
          ...state,
          requests: { ...state.requests, [event.data.requestId]: { status: 'Issued', certificate: event.data } },
        };
      case 'CertificateRejected': {
        if (state.requests[event.data.requestId]?.status === 'Issued') return state;
        return {
          ...state,
          requests: { ...state.requests, [event.data.requestId]: { status: 'Rejected', reason: event.data.reason } },
        };
      }
      case 'CertificateRevoked':
        return {
          ...state,
          revokedSerials: [...state.revokedSerials, event.data.serialNumber],
          revokedBy: state.revokedBy ?? event.data.revocationId,
        };
      case 'CertificationRevoked':
        return { ...state, revokedBy: state.revokedBy ?? event.data.revocationId };
      case 'CsrRequested': {
        if (state.requests[event.data.requestId]) return state;
        const { keyId, expiresAt } = event.data;
        return {
          ...state,
          requests: { ...state.requests, [event.data.requestId]: { status: 'Requested', keyId, expiresAt } },
        };
      }
      case 'CsrRequestExpired':
        if (state.requests[event.data.requestId]?.status !== 'Requested') return state;
        return { ...state, requests: { ...state.requests, [event.data.requestId]: { status: 'Expired' } } };
      default:
        return state;
    }
  },
};
