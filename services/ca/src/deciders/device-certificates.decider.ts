/**
 * A device's certificate requests and certificates (`ca.device.<deviceId>`). One subject per
 * device is what lets the event store's concurrency check decide between two CA instances racing
 * on one request. Pure: the signed certificate is made outside and comes in with the command;
 * this decides whether it becomes the request's certificate.
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
  type DataOf,
  type EventOf,
} from '@tunnelkey/contracts';
import { CommandRejected, type Command, type Decider, type NewEvent } from '@tunnelkey/eventstore';

export type IssuedCertificateData = DataOf<typeof CertificateIssued>;
export type RejectionData = DataOf<typeof CertificateRejected>;

export type DeviceCertificateEvent =
  | EventOf<typeof CertificateIssued>
  | EventOf<typeof CertificateRejected>
  | EventOf<typeof CertificateRevoked>
  | EventOf<typeof CertificationRevoked>;

export type DeviceCertificateCommand =
  | Command<'RecordIssuedCertificate', IssuedCertificateData>
  | Command<'RecordRejection', RejectionData>;

export type RequestOutcome =
  | { status: 'Issued'; certificate: IssuedCertificateData }
  | { status: 'Rejected'; reason: RejectionData['reason'] };

export interface DeviceCertificatesState {
  /** Per requestId: the last outcome (an issued request stays issued). */
  requests: Record<string, RequestOutcome>;
  revokedSerials: string[];
  /** Set by the first revocation that reached the CA (or, in a log older than CertificationRevoked, the first certificate revoked, unless by a transfer). */
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
          // An ownership transfer (affiliationChanged) revokes the old owner's certificates, not the
          // device: the new owner's are issued on. Any other reason is a device revocation (a log
          // older than CertificationRevoked has only these to say so).
          revokedBy:
            event.data.reason === 'affiliationChanged' ? state.revokedBy : (state.revokedBy ?? event.data.revocationId),
        };
      case 'CertificationRevoked':
        return { ...state, revokedBy: state.revokedBy ?? event.data.revocationId };
      default:
        return state;
    }
  },
};
