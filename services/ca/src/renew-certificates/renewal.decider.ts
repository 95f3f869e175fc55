/**
 * One certificate renewal (`ca.renewal.<renewalId>`), rotate then revoke: requested (recorded
 * before the device is asked for a CSR for its next TLS key), renewed (the new certificate issued;
 * the device holds both), completed (the device reported a connection with the new certificate:
 * only now is the previous one revoked, superseded) or expired. Each step is recorded once: a retry
 * finds it recorded and records nothing; a step out of order is refused with a typed reason.
 * Pure: times and ids come with the commands.
 */
import {
  CertificateRenewalCompleted,
  CertificateRenewalExpired,
  CertificateRenewalRequested,
  DeviceCertificateRenewed,
  type DataOf,
  type EventOf,
} from '@tunnelkey/contracts';
import { CommandRejected, type Command, type Decider, type NewEvent } from '@tunnelkey/eventstore';

export type RenewalRequestData = DataOf<typeof CertificateRenewalRequested>;
export type RenewedData = DataOf<typeof DeviceCertificateRenewed>;
export type RenewalCompletedData = DataOf<typeof CertificateRenewalCompleted>;
export type RenewalExpiredData = DataOf<typeof CertificateRenewalExpired>;

export type RenewalEvent =
  | EventOf<typeof CertificateRenewalRequested>
  | EventOf<typeof DeviceCertificateRenewed>
  | EventOf<typeof CertificateRenewalCompleted>
  | EventOf<typeof CertificateRenewalExpired>;

export type RenewalCommand =
  | Command<'RequestRenewal', RenewalRequestData>
  | Command<'RecordRenewed', RenewedData>
  /** The device's signed report that it connected with the new certificate. */
  | Command<'RecordSwitch', RenewalCompletedData>
  | Command<'RecordExpiry', { renewalId: string; deviceId: string; operationId: string }>;

export type RenewalState =
  | { status: 'None' }
  | { status: 'Requested'; request: RenewalRequestData }
  | { status: 'Renewed'; request: RenewalRequestData; renewed: RenewedData }
  | { status: 'Completed'; request: RenewalRequestData; renewed: RenewedData; completed: RenewalCompletedData }
  | { status: 'Expired'; request: RenewalRequestData; stage: 'csr' | 'switch' };

export const renewalStream = (renewalId: string) => ({ context: 'ca' as const, aggregate: 'renewal', id: renewalId });

const reject = (reason: string, message: string, renewalId: string): never => {
  throw new CommandRejected(reason, message, { renewalId });
};

const event = <E extends RenewalEvent>(type: E['type'], data: E['data']) =>
  ({ type, version: 1, data }) as NewEvent<RenewalEvent>;

export const renewalDecider: Decider<RenewalCommand, RenewalEvent, RenewalState> = {
  initialState: () => ({ status: 'None' }),

  decide(command, state): NewEvent<RenewalEvent>[] {
    const { renewalId } = command.data;
    switch (command.type) {
      case 'RequestRenewal':
        // Once: a retried command finds it recorded, whatever became of it.
        return state.status === 'None' ? [event('CertificateRenewalRequested', command.data)] : [];
      case 'RecordRenewed': {
        if (state.status === 'None') return reject('unknown-renewal', 'no such renewal', renewalId);
        if (state.status === 'Expired') return reject('renewal-expired', 'the renewal was given up', renewalId);
        if (command.data.requestId !== state.request.requestId)
          return reject('not-this-renewal', 'the certificate answers another request', renewalId);
        if (state.status !== 'Requested') {
          // Matched exactly once: the same certificate again changes nothing, another is refused.
          if (state.renewed.serialNumber === command.data.serialNumber) return [];
          return reject('already-renewed', 'the renewal has its certificate already', renewalId);
        }
        return [event('DeviceCertificateRenewed', command.data)];
      }
      case 'RecordSwitch': {
        if (state.status === 'None') return reject('unknown-renewal', 'no such renewal', renewalId);
        if (state.status === 'Expired') return reject('renewal-expired', 'the renewal was given up', renewalId);
        if (state.status === 'Requested')
          return reject('not-renewed-yet', 'the renewal has no new certificate yet', renewalId);
        if (command.data.serialNumber !== state.renewed.serialNumber)
          return reject('not-renewed-certificate', 'the device reported another certificate', renewalId);
        if (state.status === 'Completed') return [];
        return [event('CertificateRenewalCompleted', command.data)];
      }
      case 'RecordExpiry':
        if (state.status === 'Requested')
          return [event('CertificateRenewalExpired', { ...command.data, stage: 'csr' })];
        if (state.status === 'Renewed')
          return [event('CertificateRenewalExpired', { ...command.data, stage: 'switch' })];
        return [];
      default: {
        const unknown: never = command;
        throw new CommandRejected('unknown-command', `unknown command ${(unknown as Command).type}`);
      }
    }
  },

  evolve(state, recorded): RenewalState {
    switch (recorded.type) {
      case 'CertificateRenewalRequested':
        return state.status === 'None' ? { status: 'Requested', request: recorded.data } : state;
      case 'DeviceCertificateRenewed':
        return state.status === 'Requested'
          ? { status: 'Renewed', request: state.request, renewed: recorded.data }
          : state;
      case 'CertificateRenewalCompleted':
        return state.status === 'Renewed' ? { ...state, status: 'Completed', completed: recorded.data } : state;
      case 'CertificateRenewalExpired':
        return state.status === 'Requested' || state.status === 'Renewed'
          ? { status: 'Expired', request: state.request, stage: recorded.data.stage }
          : state;
      default:
        return state;
    }
  },
};
