import type { EventEnvelope } from '@tunnelkey/contracts';
import { deciderSpecification } from './decider-specification.js';

class Refused extends Error {}

type Counted = EventEnvelope<'Counted', { by: number }>;
type Count = { type: 'Count'; by: number };
const counter = {
  initialState: () => ({ total: 0 }),
  decide: (command: Count, state: { total: number }) => {
    if (state.total + command.by > 3) throw new Refused('too many');
    return command.by === 0 ? [] : [{ type: 'Counted', version: 1, data: { by: command.by } }];
  },
  evolve: (state: { total: number }, event: Counted) => ({ total: state.total + event.data.by }),
};
const spec = deciderSpecification(counter);
const counted = (by: number) => ({ type: 'Counted', version: 1, data: { by } });

describe('deciderSpecification', () => {
  test('then: the decided events', () => {
    spec
      .given([counted(1)])
      .when({ type: 'Count', by: 2 })
      .then([counted(2)]);
  });

  test('then fails when the decider decides something else', () => {
    expect(() =>
      spec
        .given([])
        .when({ type: 'Count', by: 2 })
        .then([counted(3)]),
    ).toThrow();
  });

  test('thenNothingHappened', () => {
    spec.given([]).when({ type: 'Count', by: 0 }).thenNothingHappened();
    expect(() => spec.given([]).when({ type: 'Count', by: 1 }).thenNothingHappened()).toThrow();
  });

  test('thenThrows: by class or predicate, and fails when nothing is thrown', () => {
    spec
      .given([counted(2)])
      .when({ type: 'Count', by: 2 })
      .thenThrows(Refused);
    spec
      .given([counted(2)])
      .when({ type: 'Count', by: 2 })
      .thenThrows((e) => e instanceof Error && e.message === 'too many');
    expect(() => spec.given([]).when({ type: 'Count', by: 1 }).thenThrows(Refused)).toThrow(
      'expected the decider to throw',
    );
    expect(() =>
      spec
        .given([counted(3)])
        .when({ type: 'Count', by: 1 })
        .thenThrows(TypeError),
    ).toThrow();
  });

  test('given accepts full envelopes too', () => {
    const envelope: Counted = {
      ...counted(3),
      type: 'Counted',
      id: '00000000-0000-8000-8000-000000000009',
      aggregateId: 'c',
      occurredAt: '2000-01-01T00:00:00Z',
      causationId: 'x',
      correlationId: 'x',
    };
    spec.given([envelope]).when({ type: 'Count', by: 1 }).thenThrows(Refused);
  });
});
