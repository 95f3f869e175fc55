/**
 * One authority's CRLs (`ca.crl.<authorityId>`): the CRL number strictly increases (RFC 5280
 * 5.2.3) and thisUpdate never goes back. The CRL itself is signed and stored outside; this decides
 * whether it becomes the authority's next CRL. Two CA instances publishing at once meet in the
 * subject's concurrency check; the loser rebuilds with the next number.
 */
import { CrlPublished, type DataOf, type EventOf } from '@tunnelkey/contracts';
import { CommandRejected, type Command, type Decider, type NewEvent } from '@tunnelkey/eventstore';

export type CrlData = DataOf<typeof CrlPublished>;
export type CrlEvent = EventOf<typeof CrlPublished>;
export type PublishCrlCommand = Command<'PublishCrl', CrlData>;

export interface CrlState {
  /** 0 before the first CRL. */
  lastNumber: number;
  last?: CrlData;
}

export const crlStream = (authorityId: string) => ({ context: 'ca' as const, aggregate: 'crl', id: authorityId });

export const crlDecider: Decider<PublishCrlCommand, CrlEvent, CrlState> = {
  initialState: () => ({ lastNumber: 0 }),

  decide(command, state): NewEvent<CrlEvent>[] {
    switch (command.type) {
      case 'PublishCrl': {
        const crl = command.data;
        if (crl.crlNumber !== state.lastNumber + 1) {
          throw new CommandRejected('stale-crl-number', `CRL number ${crl.crlNumber} does not follow ${state.lastNumber}`, { authorityId: crl.authorityId, crlNumber: crl.crlNumber, lastNumber: state.lastNumber });
        }
        if (state.last && Date.parse(crl.thisUpdate) < Date.parse(state.last.thisUpdate)) {
          throw new CommandRejected('crl-from-the-past', 'thisUpdate is earlier than the last CRL', { authorityId: crl.authorityId });
        }
        if (Date.parse(crl.nextUpdate) <= Date.parse(crl.thisUpdate)) throw new CommandRejected('bad-crl-validity', 'nextUpdate must follow thisUpdate', { authorityId: crl.authorityId });
        return [{ type: 'CrlPublished', version: 1, data: crl }];
      }
      default: {
        const unknown: never = command.type;
        throw new CommandRejected('unknown-command', `unknown command ${String(unknown)}`);
      }
    }
  },

  evolve(state, event): CrlState {
    return event.type === 'CrlPublished' ? { lastNumber: Math.max(state.lastNumber, event.data.crlNumber), last: event.data } : state;
  },
};
