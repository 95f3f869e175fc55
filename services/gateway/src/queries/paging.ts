import { Type, type TSchema } from '@sinclair/typebox';
import { BadRequest } from '../errors.js';

export const maxPageSize = 500;

export interface PageRequest {
  limit: number;
  offset: number;
}

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

export const pageQueryParameters = {
  limit: Type.Integer({ minimum: 1, maximum: maxPageSize, default: 50, description: 'Page size' }),
  offset: Type.Integer({ minimum: 0, maximum: 10_000_000, default: 0, description: 'Items to skip' }),
};

export function PageSchema(item: TSchema) {
  return Type.Object({
    items: Type.Array(item),
    total: Type.Integer({ minimum: 0 }),
    limit: Type.Integer(),
    offset: Type.Integer(),
  });
}

/** Query-string paging, checked: the console and the CLI get a 400 naming the parameter. */
export function pageOf(query: Record<string, unknown>, defaultLimit = 50): PageRequest {
  return {
    limit: integerParam(query, 'limit', 1, maxPageSize) ?? defaultLimit,
    offset: integerParam(query, 'offset', 0, 10_000_000) ?? 0,
  };
}

export function integerParam(
  query: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const raw = query[name];
  if (raw === undefined || raw === '') return undefined;
  const value = typeof raw === 'string' && /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(value) || value < min || value > max)
    throw new BadRequest(`query parameter ${name} must be an integer from ${min} to ${max}`, [
      { path: `query.${name}` },
    ]);
  return value;
}

export function enumParam<T extends string>(
  query: Record<string, unknown>,
  name: string,
  allowed: readonly T[],
): T | undefined {
  const raw = query[name];
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string' || !(allowed as readonly string[]).includes(raw))
    throw new BadRequest(`query parameter ${name} must be one of ${allowed.join(', ')}`, [{ path: `query.${name}` }]);
  return raw as T;
}

const idPattern = /^[A-Za-z0-9_-]{1,128}$/;
export function idParam(value: unknown, name: string): string {
  if (typeof value !== 'string' || !idPattern.test(value))
    throw new BadRequest(`${name} must match ${idPattern.source}`, [{ path: name }]);
  return value;
}

export function optionalIdParam(query: Record<string, unknown>, name: string): string | undefined {
  const raw = query[name];
  return raw === undefined || raw === '' ? undefined : idParam(raw, `query.${name}`);
}

export function slice<T>(items: readonly T[], page: PageRequest): Page<T> {
  return {
    items: items.slice(page.offset, page.offset + page.limit),
    total: items.length,
    limit: page.limit,
    offset: page.offset,
  };
}
