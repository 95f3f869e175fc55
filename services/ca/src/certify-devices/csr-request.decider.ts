/**
 * One CSR request the CA sends (`ca.csr-request.<requestId>`): recorded once before the device is
 * asked, given up once if it expires unanswered. The answer lives on the device's stream (issuance
 * decides it there, one certificate per requestId); whether the request was answered is what the
 * pending-csr-requests view knows, and the window asks it before giving a request up. An answer
 * racing the expiry may leave both recorded: the certificate stands, the request reads given up.
 */
import { CsrRequestExpired, CsrRequested, type DataOf, type EventOf } from '@tunnelkey/contracts';
import { CommandRejected, type Command, type Decider, type NewEvent } from '@tunnelkey/eventstore';

export type CsrRequestData = DataOf<typeof CsrRequested>;
export type CsrRequestExpiryData = DataOf<typeof CsrRequestExpired>;

export type CsrRequestEvent = EventOf<typeof CsrRequested> | EventOf<typeof CsrRequestExpired>;

export type CsrRequestCommand =
  | Command<'RecordCsrRequest', CsrRequestData>
  | Command<'RecordCsrRequestExpiry', CsrRequestExpiryData>;

export type CsrRequestState =
  | { status: 'None' }
  | { status: 'Requested'; request: CsrRequestData }
  | { status: 'Expired'; request: CsrRequestData };

export const csrRequestStream = (requestId: string) => ({
  context: 'ca' as const,
  aggregate: 'csr-request',
  id: requestId,
});

export const csrRequestDecider: Decider<CsrRequestCommand, CsrRequestEvent, CsrRequestState> = {
  initialState: () => ({ status: 'None' }),

  decide(command, state): NewEvent<CsrRequestEvent>[] {
    switch (command.type) {
      case 'RecordCsrRequest':
        // Once: a retried command finds it recorded (pending or given up) and records nothing.
        return state.status === 'None' ? [{ type: 'CsrRequested', version: 1, data: command.data }] : [];
      case 'RecordCsrRequestExpiry':
        return state.status === 'Requested' ? [{ type: 'CsrRequestExpired', version: 1, data: command.data }] : [];
      default: {
        const unknown: never = command;
        throw new CommandRejected('unknown-command', `unknown command ${(unknown as Command).type}`);
      }
    }
  },

  evolve(state, event): CsrRequestState {
    switch (event.type) {
      case 'CsrRequested':
        return state.status === 'None' ? { status: 'Requested', request: event.data } : state;
      case 'CsrRequestExpired':
        return state.status === 'Requested' ? { status: 'Expired', request: state.request } : state;
      default:
        return state;
    }
  },
};
