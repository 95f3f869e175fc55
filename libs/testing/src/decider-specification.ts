import type { CommandMetadata, EventEnvelope } from '@tunnelkey/contracts';

/**
 * The decider shape this helper needs, structurally: any `Decider` of @tunnelkey/eventstore fits.
 * (Spelled out here so that libs/testing stays a leaf the event store's own tests can use.)
 */
export interface SpecifiedDecider<C, E extends EventEnvelope, S> {
  initialState: () => S;
  decide: (command: C, state: S) => readonly DecidedEvent[];
  evolve: (state: S, event: E) => S;
}

/** What a decider emits: type, version and data (the handler adds the envelope). */
export interface DecidedEvent {
  type: string;
  version: number;
  data: unknown;
}

type ErrorCheck = (abstract new (...args: never[]) => Error) | ((error: unknown) => boolean);

export interface DeciderThen {
  /** decide returned exactly these events (type, version, data), in order. */
  then(expected: readonly DecidedEvent[]): void;
  /** decide accepted the command and decided nothing. */
  thenNothingHappened(): void;
  /** decide threw an instance of the class, or an error the predicate accepts. */
  thenThrows(check: ErrorCheck): void;
}

export interface DeciderWhen<C> {
  when(command: C): DeciderThen;
}

export interface DeciderSpecification<C, E extends EventEnvelope> {
  /** The aggregate's past: decided events (wrapped in test envelopes for evolve) or full envelopes. */
  given(events: readonly (DecidedEvent | E)[]): DeciderWhen<C>;
}

const givenMetadata: CommandMetadata = { commandId: 'given', now: '2000-01-01T00:00:00.000Z' };

/**
 * Given/when/then for a pure decider (emmett style), no bus, assertions through jest's expect:
 * ```ts
 * const spec = deciderSpecification(policyDecider);
 * spec.given([]).when(definePolicy).then([{ type: 'ServerPolicyDefined', version: 1, data }]);
 * spec.given([defined]).when(definePolicy).thenThrows(CommandRejected);
 * ```
 */
export function deciderSpecification<C, E extends EventEnvelope, S>(
  decider: SpecifiedDecider<C, E, S>,
  options: { aggregateId?: string } = {},
): DeciderSpecification<C, E> {
  const aggregateId = options.aggregateId ?? 'given';
  const envelope = (event: DecidedEvent | E, index: number): E =>
    isEnvelope(event)
      ? (event as E)
      : ({
          ...event,
          id: `00000000-0000-8000-8000-${index.toString(16).padStart(12, '0')}`,
          aggregateId,
          occurredAt: givenMetadata.now,
          causationId: givenMetadata.commandId,
          correlationId: givenMetadata.commandId,
        } as E);
  return {
    given(past) {
      const state = () => past.map(envelope).reduce(decider.evolve, decider.initialState());
      return {
        when(command) {
          const run = () => decider.decide(command, state());
          return {
            then(expected) {
              expect(run().map(decided)).toEqual(expected.map(decided));
            },
            thenNothingHappened() {
              expect(run()).toEqual([]);
            },
            thenThrows(check) {
              let thrown: unknown;
              try {
                run();
              } catch (error) {
                thrown = error ?? new Error('threw a nullish value');
              }
              if (thrown === undefined) throw new Error('expected the decider to throw, but it decided');
              if (isErrorClass(check)) expect(thrown).toBeInstanceOf(check);
              else if (!check(thrown))
                throw new Error(`the decider threw an error the predicate refused: ${String(thrown)}`, {
                  cause: thrown,
                });
            },
          };
        },
      };
    },
  };
}

const decided = ({ type, version, data }: DecidedEvent): DecidedEvent => ({ type, version, data });

function isEnvelope(event: DecidedEvent | EventEnvelope): event is EventEnvelope {
  return 'id' in event && 'aggregateId' in event;
}

function isErrorClass(check: ErrorCheck): check is abstract new (...args: never[]) => Error {
  return check === Error || (typeof check === 'function' && check.prototype instanceof Error);
}
