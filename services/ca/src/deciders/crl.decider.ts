/**
 * One authority's CRLs (`ca.crl.<authorityId>`): the CRL number strictly increases (RFC 5280
 * 5.2.3) and so does thisUpdate, by whole seconds. The CRL itself is signed and stored outside; this decides
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

/** X.509 encodes thisUpdate in whole seconds. */
const wholeSecond = (ms: number) => Math.floor(ms / 1_000) * 1_000;

/** thisUpdate is backdated by up to this much (clock skew, and room for bursts: see nextCrlThisUpdate). */
export const crlBackdateMs = 60_000;

/**
 * The thisUpdate of an authority's next CRL: a whole second strictly after the last one's, and
 * otherwise `now` less crlBackdateMs. Strictly later because a TLS server may hold several CRLs of
 * one issuer at once (Mosquitto 2.0 adds every CRL it reloads to the listener's X509_STORE and
 * never drops one), and OpenSSL then checks against the one with the latest lastUpdate, and among
 * equal ones whichever it finds first: two CRLs within one second could leave a revoked device
 * accepted. The backdate lets a burst of up to 60 CRLs keep whole seconds apart without any of them
 * dated in the future; past that, the result may be later than `now` and the caller waits for it.
 */
export function nextCrlThisUpdate(now: Date, last?: Pick<CrlData, 'thisUpdate'>): Date {
  const afterLast = last ? wholeSecond(Date.parse(last.thisUpdate)) + 1_000 : Number.NEGATIVE_INFINITY;
  return new Date(Math.max(wholeSecond(now.getTime() - crlBackdateMs), afterLast));
}

export const crlDecider: Decider<PublishCrlCommand, CrlEvent, CrlState> = {
  initialState: () => ({ lastNumber: 0 }),

  decide(command, state): NewEvent<CrlEvent>[] {
    switch (command.type) {
      case 'PublishCrl': {
        const crl = command.data;
        if (crl.crlNumber !== state.lastNumber + 1) {
          throw new CommandRejected(
            'stale-crl-number',
            `CRL number ${crl.crlNumber} does not follow ${state.lastNumber}`,
            { authorityId: crl.authorityId, crlNumber: crl.crlNumber, lastNumber: state.lastNumber },
          );
        }
        if (state.last && wholeSecond(Date.parse(crl.thisUpdate)) <= wholeSecond(Date.parse(state.last.thisUpdate))) {
          throw new CommandRejected(
            'crl-not-after-last',
            'thisUpdate must be a later second than the last CRL (see nextCrlThisUpdate)',
            { authorityId: crl.authorityId },
          );
        }
        if (Date.parse(crl.nextUpdate) <= Date.parse(crl.thisUpdate))
          throw new CommandRejected('bad-crl-validity', 'nextUpdate must follow thisUpdate', {
            authorityId: crl.authorityId,
          });
        return [{ type: 'CrlPublished', version: 1, data: crl }];
      }
      default: {
        const unknown: never = command.type;
        throw new CommandRejected('unknown-command', `unknown command ${String(unknown)}`);
      }
    }
  },

  evolve(state, event): CrlState {
    return event.type === 'CrlPublished'
      ? { lastNumber: Math.max(state.lastNumber, event.data.crlNumber), last: event.data }
      : state;
  },
};
