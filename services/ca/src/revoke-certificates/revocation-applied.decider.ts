/**
 * The CA's record of one revocation (`ca.revocation.<revocationId>`): written once, after every
 * certificate is revoked and every CRL listing them is published. Its presence is what makes a
 * redelivered RevocationRequested a no-op, and what the revocation saga waits for.
 */
import { RevocationApplied, type DataOf, type EventOf } from '@tunnelkey/contracts';
import { CommandRejected, type Command, type Decider, type NewEvent } from '@tunnelkey/eventstore';

export type RevocationAppliedData = DataOf<typeof RevocationApplied>;
export type RecordRevocationAppliedCommand = Command<'RecordRevocationApplied', RevocationAppliedData>;
export type CaRevocationState = { status: 'Pending' } | { status: 'Applied'; applied: RevocationAppliedData };

export const caRevocationStream = (revocationId: string) => ({
  context: 'ca' as const,
  aggregate: 'revocation',
  id: revocationId,
});

export const revocationAppliedDecider: Decider<
  RecordRevocationAppliedCommand,
  EventOf<typeof RevocationApplied>,
  CaRevocationState
> = {
  initialState: () => ({ status: 'Pending' }),
  decide(command, state): NewEvent<EventOf<typeof RevocationApplied>>[] {
    switch (command.type) {
      case 'RecordRevocationApplied':
        // Once: a redelivery after a crash finds the work done and changes nothing.
        return state.status === 'Applied' ? [] : [{ type: 'RevocationApplied', version: 1, data: command.data }];
      default: {
        const unknown: never = command.type;
        throw new CommandRejected('unknown-command', `unknown command ${String(unknown)}`);
      }
    }
  },
  evolve: (state, event) =>
    event.type === 'RevocationApplied' && state.status === 'Pending'
      ? { status: 'Applied', applied: event.data }
      : state,
};
