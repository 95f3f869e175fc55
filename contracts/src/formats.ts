import { FormatRegistry } from '@sinclair/typebox';

/**
 * TypeBox's compiler refuses any `format` it does not know (every check fails), so the formats
 * our schemas use are registered here, once, before any schema is compiled. They stay in the
 * schemas because JSON Schema readers of the AsyncAPI document understand them.
 */
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// RFC 3339 date-time with a mandatory offset.
const dateTime =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d{1,9})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

export function isUuid(value: string): boolean {
  return uuid.test(value);
}

const daysInMonth = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export function isDateTime(value: string): boolean {
  if (!dateTime.test(value)) return false;
  // The day must exist in its month (Date.parse would roll 2025-02-30 over to March). Arithmetic,
  // not a Date: every event carries dates and is checked on append and on every decode.
  const year = Number(value.slice(0, 4));
  const month = Number(value.slice(5, 7));
  const day = Number(value.slice(8, 10));
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= (month === 2 && leap ? 29 : daysInMonth[month - 1]!);
}

export function registerFormats(): void {
  if (!FormatRegistry.Has('uuid')) FormatRegistry.Set('uuid', isUuid);
  if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', isDateTime);
}

registerFormats();
