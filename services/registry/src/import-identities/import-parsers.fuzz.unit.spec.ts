// Fuzzing of what an identity import parses: the CSV reader, CSV and JSON rows, the request
// itself. Whatever the operator's file holds, the import refuses with a typed error or reports a
// verdict per row; only a row whose key digests to its device id is ever accepted.
// `npm run fuzz` runs the same properties much longer (FUZZ_RUNS).
import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { isContractViolation } from '@tunnelkey/contracts';
import { CommandRejected } from '@tunnelkey/eventstore';
import { identityFromPublicKey, deviceIdMatchesPublicKey } from '@tunnelkey/puf';
import { fuzz } from '@tunnelkey/testing';
import { CsvSyntaxError, parseCsvRecords } from './csv-records.js';
import { checkIdentityRows, suppliedCsvRows, suppliedJsonRows } from './identity-rows.js';
import { parseImportRequest } from './import-identities.handler.js';

/** Runs `parse`; a typed refusal is fine, anything else thrown fails the property. */
function refusedOr<T>(parse: () => T): T | 'refused' {
  try {
    return parse();
  } catch (error) {
    if (error instanceof CommandRejected || error instanceof CsvSyntaxError || isContractViolation(error))
      return 'refused';
    throw error;
  }
}

const quote = (field: string) => `"${field.replaceAll('"', '""')}"`;
const csvText = fc.oneof(
  fc.string({ maxLength: 400 }),
  fc
    .array(
      fc
        .array(fc.constantFrom('a', ',', '"', '\n', '\r', ' ', 'deviceId', 'enrolmentPublicKey', '-----BEGIN'), {
          maxLength: 30,
        })
        .map((p) => p.join('')),
      { maxLength: 10 },
    )
    .map((lines) => lines.join('\n')),
);

function identity() {
  const spki = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' });
  return { deviceId: identityFromPublicKey(spki), enrolmentPublicKey: spki.toString('base64') };
}

describe('fuzzing identity imports', () => {
  const good = identity();

  it('CSV reader: any text gives records or a CsvSyntaxError, never a crash', async () => {
    await fuzz(
      'import csv: arbitrary text',
      fc.property(csvText, (text) => {
        refusedOr(() => parseCsvRecords(text));
      }),
    );
  });

  it('CSV reader: records written with RFC 4180 quoting read back field for field', async () => {
    const field = fc.string({ maxLength: 40, unit: fc.constantFrom('a', 'b', ',', '"', '\n', '\r\n', ' ', 'é', '🔑') });
    const records = fc.array(fc.array(field, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 8 });
    await fuzz(
      'import csv: quoted round trip',
      fc.property(records, fc.constantFrom('\n', '\r\n'), (rows, eol) => {
        const text = rows.map((fields) => fields.map(quote).join(',')).join(eol);
        // A record of one empty field is a blank line, which the reader skips.
        const expected = rows.filter((fields) => !(fields.length === 1 && fields[0] === ''));
        expect(parseCsvRecords(text).map((r) => r.fields)).toEqual(expected);
      }),
    );
  });

  it('CSV rows: any CSV is refused as a whole or judged row by row; only matching id and key are accepted', async () => {
    const rowText = fc.oneof(
      csvText,
      fc
        .tuple(fc.string({ maxLength: 80 }), fc.string({ maxLength: 200 }))
        .map(([id, key]) => `deviceId,enrolmentPublicKey\n${quote(id)},${quote(key)}\n`),
      fc.nat({ max: good.enrolmentPublicKey.length - 1 }).chain((at) =>
        fc.string({ minLength: 1, maxLength: 3 }).map((s) => {
          const key = good.enrolmentPublicKey.slice(0, at) + s + good.enrolmentPublicKey.slice(at + 1);
          return `deviceId,enrolmentPublicKey\n${good.deviceId},${quote(key)}\n`;
        }),
      ),
    );
    await fuzz(
      'import csv: rows',
      fc.property(rowText, (text) => {
        const rows = refusedOr(() => suppliedCsvRows(text));
        if (rows === 'refused') return;
        for (const verdict of checkIdentityRows(rows)) {
          if (!verdict.ok) continue;
          const spki = Buffer.from(verdict.identity.enrolmentPublicKey, 'base64');
          expect(deviceIdMatchesPublicKey(verdict.identity.deviceId, spki)).toBe(true);
        }
      }),
    );
  });

  it('JSON rows: any JSON values are judged row by row, never a crash; only matching id and key are accepted', async () => {
    const row = fc.oneof(
      fc.jsonValue(),
      fc.record(
        {
          deviceId: fc.oneof(fc.string(), fc.constant(good.deviceId)),
          enrolmentPublicKey: fc.oneof(fc.string(), fc.base64String(), fc.constant(good.enrolmentPublicKey)),
          metadata: fc.jsonValue(),
        },
        { requiredKeys: [] },
      ),
    );
    await fuzz(
      'import json: rows',
      fc.property(fc.array(row, { maxLength: 20 }), (rows) => {
        const verdicts = checkIdentityRows(suppliedJsonRows(rows));
        expect(verdicts).toHaveLength(rows.length);
        for (const verdict of verdicts) {
          if (!verdict.ok) continue;
          expect(verdict.identity.deviceId).toBe(good.deviceId);
          expect(verdict.identity.enrolmentPublicKey).toBe(good.enrolmentPublicKey);
        }
      }),
    );
  });

  it('the import request: any JSON is parsed or refused with a typed error', async () => {
    const request = fc.oneof(
      fc.jsonValue(),
      fc.record(
        {
          commandId: fc.string(),
          batchId: fc.string(),
          importId: fc.string(),
          source: fc.oneof(
            fc.jsonValue(),
            fc.record(
              { format: fc.constantFrom('json', 'csv', 'xml'), rows: fc.jsonValue(), text: fc.string() },
              { requiredKeys: [] },
            ),
          ),
        },
        { requiredKeys: [] },
      ),
    );
    await fuzz(
      'import request: arbitrary JSON',
      fc.property(request, (payload) => {
        refusedOr(() => parseImportRequest(payload));
      }),
    );
  });
});
