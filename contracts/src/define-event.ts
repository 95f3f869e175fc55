import type { Static, TObject, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { BoundedContext } from './contexts.js';
import { envelopeSchema, type EventEnvelope } from './envelope.js';
import { ContractViolation } from './errors.js';

export interface EventSpec<T extends string, V extends number, D extends TObject> {
  /** Past-tense PascalCase, e.g. `IdentitiesImported`. */
  type: T;
  version: V;
  context: BoundedContext;
  aggregate: string;
  /** One line for the AsyncAPI document. */
  summary: string;
  data: D;
  /** Part of the public device-lifecycle contract other teams subscribe to. */
  public?: boolean;
}

export interface EventDefinition<T extends string = string, V extends number = number, D extends TObject = TObject>
  extends Readonly<EventSpec<T, V, D>> {
  /** JSON Schema of the whole envelope (for AsyncAPI and runtime validation). */
  readonly schema: TSchema;
  /** Type guard derived from the schema: checks type, version and the whole payload. */
  is(value: unknown): value is EventEnvelope<T, Static<D>>;
  /** Returns the value typed, or throws ContractViolation naming every failing path. */
  parse(value: unknown): EventEnvelope<T, Static<D>>;
}

export type EventOf<E> = E extends EventDefinition<infer T, number, infer D> ? EventEnvelope<T, Static<D>> : never;
export type DataOf<E> = E extends EventDefinition<string, number, infer D> ? Static<D> : never;

const maxReportedErrors = 5;

export function violations(check: TypeCheck<TSchema>, value: unknown) {
  const details: { path: string; message: string }[] = [];
  for (const error of check.Errors(value)) {
    details.push({ path: error.path, message: error.message });
    if (details.length >= maxReportedErrors) break;
  }
  return details;
}

export function defineEvent<const T extends string, const V extends number, D extends TObject>(
  spec: EventSpec<T, V, D>,
): EventDefinition<T, V, D> {
  const schema = envelopeSchema(spec.type, spec.version, spec.data);
  const check = TypeCompiler.Compile(schema);
  const is = (value: unknown): value is EventEnvelope<T, Static<D>> => check.Check(value);
  return Object.freeze({
    ...spec,
    schema,
    is,
    parse(value: unknown) {
      if (is(value)) return value;
      throw new ContractViolation(`${spec.type} v${spec.version} does not match its contract`, violations(check, value));
    },
  });
}
