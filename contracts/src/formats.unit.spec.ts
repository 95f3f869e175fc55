import { isDateTime } from './formats.js';

describe('isDateTime (RFC 3339 with an offset, and a day that exists)', () => {
  it.each([
    ['2024-02-29T00:00:00Z', true],
    ['2000-02-29T12:00:00.5+01:00', true],
    ['2025-02-29T00:00:00Z', false],
    ['1900-02-29T00:00:00Z', false],
    ['2025-04-31T00:00:00Z', false],
    ['2025-12-31T23:59:60Z', true],
    ['2025-12-31T23:59:59', false],
    ['2025-13-01T00:00:00Z', false],
  ])('%s -> %s', (value, expected) => expect(isDateTime(value)).toBe(expected));

  it('agrees with the calendar of Date for every day of four centuries’ worth of sampled years', () => {
    for (const year of [1600, 1700, 1896, 1900, 1999, 2000, 2023, 2024, 2100, 2400]) {
      for (let month = 1; month <= 12; month++) {
        const last = new Date(Date.UTC(year, month, 0)).getUTCDate();
        for (let day = 28; day <= 31; day++) {
          const value = `${year}-${String(month).padStart(2, '0')}-${day}T00:00:00Z`;
          expect([value, isDateTime(value)]).toEqual([value, day <= last]);
        }
      }
    }
  });
});
