/**
 * The authority aggregate (`ca.authority.<authorityId>`): a root or an owner's issuing CA. Pure:
 * the certificate is built and signed outside (signing is I/O with randomness) and comes in with
 * the command; the decider only decides whether it becomes the authority's certificate.
 */
import { AuthorityCreated, AuthorityKeyExported, type DataOf, type EventOf } from '@tunnelkey/contracts';
import { CommandRejected, type Command, type Decider, type NewEvent } from '@tunnelkey/eventstore';

export type AuthorityData = DataOf<typeof AuthorityCreated>;

export type AuthorityEvent = EventOf<typeof AuthorityCreated> | EventOf<typeof AuthorityKeyExported>;

export type AuthorityCommand =
  | Command<'CreateAuthority', AuthorityData>
  | Command<'ExportAuthorityKey', { authorityId: string; exportDigest: string }>;

export type AuthorityState =
  | { status: 'Absent' }
  | { status: 'Active'; authority: AuthorityData }
  | { status: 'KeyOffline'; authority: AuthorityData; exportDigest: string };

export const authorityStream = (authorityId: string) => ({
  context: 'ca' as const,
  aggregate: 'authority',
  id: authorityId,
});

export const authorityDecider: Decider<AuthorityCommand, AuthorityEvent, AuthorityState> = {
  initialState: () => ({ status: 'Absent' }),

  decide(command, state): NewEvent<AuthorityEvent>[] {
    switch (command.type) {
      case 'CreateAuthority':
        // Idempotent: whoever created it first wins; the caller adopts the recorded certificate.
        if (state.status !== 'Absent') return [];
        return [{ type: 'AuthorityCreated', version: 1, data: command.data }];
      case 'ExportAuthorityKey':
        if (state.status === 'Absent') {
          throw new CommandRejected('authority-not-found', 'no such authority', {
            authorityId: command.data.authorityId,
          });
        }
        if (state.status === 'KeyOffline') {
          throw new CommandRejected('key-already-offline', "the authority's key was already exported", {
            authorityId: command.data.authorityId,
          });
        }
        return [{ type: 'AuthorityKeyExported', version: 1, data: command.data }];
      default: {
        const unknown: never = command;
        throw new CommandRejected('unknown-command', `unknown command ${(unknown as Command).type}`);
      }
    }
  },

  evolve(state, event): AuthorityState {
    switch (event.type) {
      case 'AuthorityCreated':
        return { status: 'Active', authority: event.data };
      case 'AuthorityKeyExported':
        return state.status === 'Absent'
          ? state
          : { status: 'KeyOffline', authority: state.authority, exportDigest: event.data.exportDigest };
      default:
        return state;
    }
  },
};
