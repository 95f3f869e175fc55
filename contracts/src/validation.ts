import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { ValueError } from '@sinclair/typebox/errors';
import { ContractViolation, type ViolationDetail } from './errors.js';
import './formats.js';

const maxReportedErrors = 5;
// Property names the schema does not know are chosen by the sender; they are shown only when
// they look like an identifier, so a misplaced secret used as a key never reaches a log line.
const shownSegment = /^(?:[A-Za-z_][A-Za-z0-9_-]{0,47}|[0-9]{1,9})$/;

function safePath(path: string): string {
  if (path === '') return '';
  return path
    .split('/')
    .slice(1)
    .map((segment) => (shownSegment.test(segment) ? segment : '~'))
    .reduce((acc, segment) => `${acc}/${segment}`, '');
}

function collect(errors: Iterable<ValueError>, into: ViolationDetail[]): void {
  for (const error of errors) {
    if (into.length >= maxReportedErrors) return;
    // A union says only "Expected union value"; the variant closest to matching says why.
    const variants = error.errors.map((iterator) => [...iterator]).filter((list) => list.length > 0);
    if (variants.length > 0) {
      const closest = variants.reduce((best, list) => (list.length < best.length ? list : best));
      collect(closest, into);
      continue;
    }
    into.push({ path: safePath(error.path), message: error.message });
  }
}

/** Up to five failing paths with what was expected there. TypeBox messages carry no values. */
export function violations(check: TypeCheck<TSchema>, value: unknown): ViolationDetail[] {
  const details: ViolationDetail[] = [];
  collect(check.Errors(value), details);
  return details;
}

export interface CompiledContract<T> {
  is(value: unknown): value is T;
  parse(value: unknown): T;
}

/** A compiled guard and a parser that throws ContractViolation naming the failing paths. */
export function compileContract<T>(schema: TSchema, label: string): CompiledContract<T> {
  const check = TypeCompiler.Compile(schema);
  const is = (value: unknown): value is T => check.Check(value);
  return {
    is,
    parse(value: unknown): T {
      if (is(value)) return value;
      throw new ContractViolation(`${label} does not match its contract`, violations(check, value));
    },
  };
}

/** Plain JSON Schema: TypeBox's symbol keys dropped, for documents and other languages. */
export function toJsonSchema(schema: TSchema): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
}
