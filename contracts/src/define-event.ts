import type { Static, TObject, TSchema } from '@sinclair/typebox';
import { aggregateSubject, type AggregateOf, type BoundedContext } from './contexts.js';
import { envelopeSchema, type EventEnvelope } from './envelope.js';
import { compileContract } from './validation.js';

export { violations } from './validation.js';

export interface EventSpec<
  T extends string,
  V extends number,
  D extends TObject,
  C extends BoundedContext = BoundedContext,
> {
  /** Past-tense PascalCase, e.g. `IdentitiesImported`. */
  type: T;
  version: V;
  context: C;
  /** The aggregate whose subject the event is appended to: `<context>.<aggregate>.<aggregateId>`. */
  aggregate: AggregateOf<C>;
  /** One line for the AsyncAPI document. */
  summary: string;
  data: D;
  /** Part of the public device-lifecycle contract other teams subscribe to. */
  public?: boolean;
}

/** The envelope fields a producer supplies; type and version come from the definition. */
export type EventInit<D> = Omit<EventEnvelope<string, D>, 'type' | 'version'>;

export interface EventDefinition<T extends string = string, V extends number = number, D extends TObject = TObject>
  extends Readonly<Omit<EventSpec<T, V, D>, 'aggregate' | 'context'>> {
  readonly context: BoundedContext;
  readonly aggregate: string;
  /** JSON Schema of the whole envelope (for AsyncAPI and runtime validation). */
  readonly schema: TSchema;
  /** Type guard derived from the schema: checks type, version and the whole payload. */
  is(value: unknown): value is EventEnvelope<T, Static<D>>;
  /** Returns the value typed, or throws ContractViolation naming every failing path. */
  parse(value: unknown): EventEnvelope<T, Static<D>>;
  /** Builds and validates an envelope of this type and version. */
  create(init: EventInit<Static<D>>): EventEnvelope<T, Static<D>>;
  /** The subject this event is appended to for one aggregate instance. */
  subject(aggregateId: string, namespace?: string): string;
}

export type EventOf<E> = E extends EventDefinition<infer T, number, infer D> ? EventEnvelope<T, Static<D>> : never;
export type DataOf<E> = E extends EventDefinition<string, number, infer D> ? Static<D> : never;

export function defineEvent<
  const T extends string,
  const V extends number,
  D extends TObject,
  const C extends BoundedContext,
>(spec: EventSpec<T, V, D, C>): EventDefinition<T, V, D> {
  const schema = envelopeSchema(spec.type, spec.version, spec.data);
  const contract = compileContract<EventEnvelope<T, Static<D>>>(schema, `${spec.type} v${spec.version}`);
  return Object.freeze({
    ...spec,
    schema,
    is: contract.is,
    parse: contract.parse,
    create: (init: EventInit<Static<D>>) => contract.parse({ type: spec.type, version: spec.version, ...init }),
    subject: (aggregateId: string, namespace = '') =>
      aggregateSubject(spec.context, spec.aggregate, aggregateId, namespace),
  });
}
