import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { aggregateIdPattern } from './contexts.js';
import './formats.js';

/**
 * NATS headers every appended event carries. `Nats-Msg-Id` is JetStream's dedup key (derived from
 * the command id); the type and version headers let a consumer route or skip without parsing.
 */
export const eventHeaderNames = {
  messageId: 'Nats-Msg-Id',
  type: 'Tk-Event-Type',
  version: 'Tk-Event-Version',
} as const;

/** Who caused an event: an operator (with the role they acted in), a device, or a service. */
export const Actor = Type.Object(
  {
    kind: Type.Union([Type.Literal('operator'), Type.Literal('device'), Type.Literal('service')]),
    id: Type.String({ minLength: 1, maxLength: 128 }),
  },
  { additionalProperties: false },
);
export type Actor = Static<typeof Actor>;

export const Uuid = Type.String({ format: 'uuid', pattern: '^[0-9a-fA-F-]{36}$' });
export const IsoTimestamp = Type.String({ format: 'date-time', minLength: 20, maxLength: 40 });
export const AggregateId = Type.String({ pattern: aggregateIdPattern });

/**
 * The envelope every event travels in. `data` is the event's own payload; the rest is the same
 * for all events. `causationId` is the command (or event) that caused it; `correlationId` ties
 * together everything one operator action set off.
 */
export function envelopeSchema<T extends string, V extends number, D extends TSchema>(type: T, version: V, data: D) {
  return Type.Object(
    {
      type: Type.Literal(type),
      version: Type.Literal(version),
      id: Uuid,
      aggregateId: AggregateId,
      occurredAt: IsoTimestamp,
      causationId: Type.String({ minLength: 1, maxLength: 128 }),
      correlationId: Type.String({ minLength: 1, maxLength: 128 }),
      actor: Type.Optional(Actor),
      data,
    },
    { additionalProperties: false },
  );
}

/** The shape of any event envelope, whatever its type. */
export interface EventEnvelope<T extends string = string, D = unknown> {
  type: T;
  version: number;
  id: string;
  aggregateId: string;
  occurredAt: string;
  causationId: string;
  correlationId: string;
  actor?: Actor;
  data: D;
}

/** What a command carries besides its payload: ids and time come in, never from inside a decider. */
export interface CommandMetadata {
  commandId: string;
  correlationId?: string;
  /** ISO timestamp at which the command was accepted. */
  now: string;
  actor?: Actor;
}
