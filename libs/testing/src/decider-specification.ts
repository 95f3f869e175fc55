import type { EventEnvelope } from '@tunnelkey/contracts';
import { toEnvelope, type Command, type Decider, type NewEvent, type StreamRef } from '@tunnelkey/eventstore';

type ErrorCheck = (new (...args: never[]) => Error) | ((error: unknown) => boolean);

export interface DeciderThen<E extends EventEnvelope> {
  /** decide returned exactly these events (type, version, data), in order. */
  then(expected: readonly NewEvent<E>[]): void;
  /** decide accepted the command and decided nothing. */
  thenNothingHappened(): void;
  /** decide threw an instance of the class, or an error the predicate accepts. */
  thenThrows(check: ErrorCheck): void;
}

export interface DeciderWhen<C extends Command, E extends EventEnvelope> {
  when(command: C): DeciderThen<E>;
}

export interface DeciderSpecification<C extends Command, E extends EventEnvelope> {
  /** The aggregate's past: decided events (wrapped in envelopes for evolve) or full envelopes. */
  given(events: readonly (NewEvent<E> | E)[]): DeciderWhen<C, E>;
}

const givenStream: StreamRef = { context: 'registry', aggregate: 'given', id: 'given' };
const givenCommand: Command = {
  type: 'Given',
  data: undefined,
  metadata: { commandId: 'given', now: '2000-01-01T00:00:00.000Z' },
};

/**
 * Given/when/then for a pure decider (emmett style), no bus:
 * ```ts
 * const spec = deciderSpecification(policyDecider);
 * spec.given([policyDefined]).when(redefine).then([policyDefinedAgain]);
 * spec.given([]).when(bad).thenThrows(CommandRejected);
 * ```
 */
export function deciderSpecification<C extends Command, E extends EventEnvelope, S>(
  decider: Decider<C, E, S>,
  options: { stream?: StreamRef } = {},
): DeciderSpecification<C, E> {
  const stream = options.stream ?? givenStream;
  return {
    given(past) {
      const state = () =>
        past.map((event, index) => ('id' in event ? (event as E) : toEnvelope(event, stream, givenCommand, index))).reduce(decider.evolve, decider.initialState());
      return {
        when(command) {
          const run = () => decider.decide(command, state());
          return {
            then(expected) {
              expect(run().map(({ type, version, data }) => ({ type, version, data }))).toEqual(expected.map(({ type, version, data }) => ({ type, version, data })));
            },
            thenNothingHappened() {
              expect(run()).toEqual([]);
            },
            thenThrows(check) {
              let thrown: unknown;
              let threw = false;
              try {
                run();
              } catch (error) {
                threw = true;
                thrown = error;
              }
              if (!threw) throw new Error('expected the decider to throw, but it decided');
              if (isErrorClass(check)) expect(thrown).toBeInstanceOf(check);
              else if (!check(thrown)) throw new Error(`the decider threw an error the predicate refused: ${String(thrown)}`, { cause: thrown });
            },
          };
        },
      };
    },
  };
}

function isErrorClass(check: ErrorCheck): check is new (...args: never[]) => Error {
  return typeof check === 'function' && check.prototype instanceof Error || check === Error;
}
