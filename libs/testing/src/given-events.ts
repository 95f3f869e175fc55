/** Test helper: plays another service by appending its events as that service would (contracts' `create`). */
import { randomUUID } from 'node:crypto';
import type { DataOf, EventDefinition, EventEnvelope } from '@tunnelkey/contracts';

/** What appending needs of an event store (the EventStore port has it); structural, so this lib needs no store. */
export interface AppendsEvents {
  append(
    stream: { context: EventDefinition['context']; aggregate: string; id: string },
    events: readonly EventEnvelope[],
    options: { expectedVersion: 'any'; messageId: string },
  ): Promise<unknown>;
}

/** Appends one event of `definition` to its aggregate's stream, with fresh ids and the time given (default now); returns it. */
export async function givenEvent<E extends EventDefinition>(
  store: AppendsEvents,
  definition: E,
  aggregateId: string,
  data: DataOf<E>,
  options: { occurredAt?: Date } = {},
): Promise<ReturnType<E['create']>> {
  const id = randomUUID();
  const event = definition.create({
    id,
    aggregateId,
    occurredAt: (options.occurredAt ?? new Date()).toISOString(),
    causationId: `test-${id}`,
    correlationId: 'test',
    data,
  });
  await store.append({ context: definition.context, aggregate: definition.aggregate, id: aggregateId }, [event], {
    expectedVersion: 'any',
    messageId: `test-${id}`,
  });
  return event as ReturnType<E['create']>;
}
