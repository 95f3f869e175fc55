import { Type, type Static, type TObject, type TProperties, type TSchema } from '@sinclair/typebox';
import { boundedContexts, namespacePattern, type BoundedContext } from './contexts.js';
import { Actor, AggregateId } from './envelope.js';
import { UnsafeSubjectToken, type ViolationDetail } from './errors.js';
import { Struct } from './primitives.js';
import { compileContract } from './validation.js';

/** Client-chosen and unique per intent: a retried command with the same id changes nothing twice. */
export const CommandId = AggregateId;

/** Fields every command carries besides its own payload. */
export const commandFields = {
  commandId: CommandId,
  /** Ties the events this command causes to the operator action; defaults to the commandId. */
  correlationId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  /** Who issued it; set by the gateway from the authenticated token, recorded in the events. */
  actor: Type.Optional(Actor),
};

/**
 * Well-known error codes of a command reply. A client switches on the code, never on the message.
 * Services may also answer with a domain reason in kebab-case (e.g. `key-not-enrolled`), which
 * the gateway maps to 422. `httpStatusOf` is the one mapping to HTTP.
 */
export const commandErrorCodes = [
  'CONTRACT_VIOLATION',
  'MALFORMED',
  'TOO_LARGE',
  'NOT_FOUND',
  'CONFLICT',
  'CONCURRENCY',
  'REJECTED',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'UNAVAILABLE',
  'INTERNAL',
] as const;
export type CommandErrorCode = (typeof commandErrorCodes)[number];

const httpStatusByCode: Readonly<Record<CommandErrorCode, number>> = {
  CONTRACT_VIOLATION: 400,
  MALFORMED: 400,
  TOO_LARGE: 413,
  NOT_FOUND: 404,
  CONFLICT: 409,
  CONCURRENCY: 409,
  REJECTED: 422,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

export function httpStatusOf(code: string): number {
  if (Object.hasOwn(httpStatusByCode, code)) return httpStatusByCode[code as CommandErrorCode];
  return /^[a-z][a-z0-9-]*$/.test(code) ? 422 : 500;
}

export const CommandError = Struct({
  code: Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_-]{0,63}$' }),
  message: Type.String({ minLength: 1, maxLength: 2000 }),
  /** Where it went wrong (JSON pointers, rows), never the offending value. */
  details: Type.Optional(
    Type.Array(
      Type.Object(
        {
          path: Type.Optional(Type.String({ maxLength: 256 })),
          message: Type.Optional(Type.String({ maxLength: 500 })),
        },
        { additionalProperties: true },
      ),
      { maxItems: 100 },
    ),
  ),
});
export type CommandError = Static<typeof CommandError>;

/** The reply envelope of every command. */
export function replySchema<R extends TSchema>(result: R) {
  return Type.Union([
    Struct({ ok: Type.Literal(true), result }),
    Struct({ ok: Type.Literal(false), error: CommandError }),
  ]);
}

export type CommandReply<R> = { ok: true; result: R } | { ok: false; error: CommandError };

export function ok<R>(result: R): CommandReply<R> {
  return { ok: true, result };
}

export function fail(
  code: CommandErrorCode | (string & {}),
  message: string,
  details?: readonly ViolationDetail[],
): CommandReply<never> {
  return { ok: false, error: details?.length ? { code, message, details: [...details] } : { code, message } };
}

export interface CommandSpec<N extends string, P extends TProperties, R extends TSchema> {
  /** Imperative PascalCase, e.g. `DefineServerPolicy`; the subject token is its kebab-case form. */
  name: N;
  /** The service that owns the command (and the aggregates it changes). */
  service: BoundedContext;
  /** One line for documentation. */
  summary: string;
  /** The command's own fields; `commandId`, `correlationId` and `actor` are added. */
  payload: P;
  /** What a successful reply carries. */
  result: R;
}

type PayloadSchema<P extends TProperties> = TObject<typeof commandFields & P>;

export interface CommandDefinition<
  N extends string = string,
  P extends TProperties = TProperties,
  R extends TSchema = TSchema,
> {
  readonly name: N;
  readonly service: BoundedContext;
  readonly summary: string;
  /** Subject token, e.g. `define-server-policy`. */
  readonly command: string;
  readonly payloadSchema: PayloadSchema<P>;
  readonly resultSchema: R;
  readonly replySchema: TSchema;
  /** `cmd.<service>.<command>`, optionally under a namespace. */
  subject(namespace?: string): string;
  is(value: unknown): value is Static<PayloadSchema<P>>;
  /** Returns the payload typed, or throws ContractViolation naming the failing paths. */
  parse(value: unknown): Static<PayloadSchema<P>>;
  isReply(value: unknown): value is CommandReply<Static<R>>;
  parseReply(value: unknown): CommandReply<Static<R>>;
}

export type CommandOf<C> = C extends CommandDefinition<string, infer P, TSchema> ? Static<PayloadSchema<P>> : never;
export type ResultOf<C> = C extends CommandDefinition<string, TProperties, infer R> ? Static<R> : never;
export type ReplyOf<C> = CommandReply<ResultOf<C>>;

/** `DefineServerPolicy` -> `define-server-policy`. */
export function kebabCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

const namespaceRegExp = new RegExp(namespacePattern);

/** `cmd.<service>.<command>`: the request/reply subject of one command. */
export function commandSubject(service: BoundedContext, command: string, namespace = ''): string {
  if (!boundedContexts.includes(service)) throw new UnsafeSubjectToken('service', boundedContexts.join('|'));
  if (!/^[a-z][a-z0-9-]{0,63}$/.test(command)) throw new UnsafeSubjectToken('command', '^[a-z][a-z0-9-]{0,63}$');
  if (namespace !== '' && !namespaceRegExp.test(namespace)) throw new UnsafeSubjectToken('namespace', namespacePattern);
  return `${namespace ? `${namespace}.` : ''}cmd.${service}.${command}`;
}

export function defineCommand<const N extends string, P extends TProperties, R extends TSchema>(
  spec: CommandSpec<N, P, R>,
): CommandDefinition<N, P, R> {
  if (!/^[A-Z][A-Za-z0-9]{1,63}$/.test(spec.name)) throw new TypeError(`command name ${spec.name} is not PascalCase`);
  const command = kebabCase(spec.name);
  const payloadSchema = Struct({ ...commandFields, ...spec.payload }) as PayloadSchema<P>;
  const reply = replySchema(spec.result);
  const payloadContract = compileContract<Static<PayloadSchema<P>>>(payloadSchema, `command ${spec.name}`);
  const replyContract = compileContract<CommandReply<Static<R>>>(reply, `reply to ${spec.name}`);
  commandSubject(spec.service, command);
  return Object.freeze({
    name: spec.name,
    service: spec.service,
    summary: spec.summary,
    command,
    payloadSchema,
    resultSchema: spec.result,
    replySchema: reply,
    subject: (namespace = '') => commandSubject(spec.service, command, namespace),
    is: payloadContract.is,
    parse: payloadContract.parse,
    isReply: replyContract.is,
    parseReply: replyContract.parse,
  });
}
