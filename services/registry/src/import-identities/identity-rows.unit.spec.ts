import { generateKeyPairSync } from 'node:crypto';
import { CommandRejected } from '@tunnelkey/eventstore';
import { identityFromPublicKey } from '@tunnelkey/puf';
import { parseCsvRecords } from './csv-records.js';
import { checkIdentityRows, suppliedCsvRows, suppliedJsonRows } from './identity-rows.js';
import { isOnP256Curve } from './p256-point.js';
import { parseImportRequest } from './import-identities.handler.js';

function p256Identity() {
  const spki = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' });
  return { deviceId: identityFromPublicKey(spki), enrolmentPublicKey: spki.toString('base64') };
}
const pemOf = (base64: string) =>
  `-----BEGIN PUBLIC KEY-----\n${base64.match(/.{1,64}/g)!.join('\n')}\n-----END PUBLIC KEY-----\n`;
const reasons = (rows: unknown[]) => checkIdentityRows(suppliedJsonRows(rows)).map((v) => (v.ok ? 'ok' : v.reason));

describe('identity rows', () => {
  const good = p256Identity();
  const other = p256Identity();

  it('accepts base64 DER and PEM keys and reports the canonical key and its digest', () => {
    const [der, pem] = checkIdentityRows(
      suppliedJsonRows([good, { ...other, enrolmentPublicKey: pemOf(other.enrolmentPublicKey) }]),
    );
    expect(der).toMatchObject({
      ok: true,
      identity: { row: 1, deviceId: good.deviceId, enrolmentPublicKey: good.enrolmentPublicKey },
    });
    expect(pem).toMatchObject({
      ok: true,
      identity: { row: 2, deviceId: other.deviceId, enrolmentPublicKey: other.enrolmentPublicKey },
    });
  });

  it('names why each bad row is refused', () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' })
      .publicKey.export({ format: 'der', type: 'spki' })
      .toString('base64');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 })
      .publicKey.export({ format: 'der', type: 'spki' })
      .toString('base64');
    const offCurve = Buffer.from(good.enrolmentPublicKey, 'base64');
    offCurve[offCurve.length - 1]! ^= 1;
    const truncated = offCurve.subarray(0, 40).toString('base64');
    expect(
      reasons([
        good,
        { deviceId: good.deviceId, enrolmentPublicKey: other.enrolmentPublicKey },
        { deviceId: 'd-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', enrolmentPublicKey: p384 },
        { deviceId: 'd-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', enrolmentPublicKey: rsa },
        { deviceId: 'd-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', enrolmentPublicKey: offCurve.toString('base64') },
        { deviceId: 'd-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', enrolmentPublicKey: truncated },
        { deviceId: 'd-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', enrolmentPublicKey: '%%%' },
        { deviceId: 'device-7', enrolmentPublicKey: good.enrolmentPublicKey },
        { deviceId: good.deviceId },
        good,
      ]),
    ).toEqual([
      'ok',
      'id-mismatch',
      'not-p256',
      'not-p256',
      'malformed-key',
      'malformed-key',
      'malformed-key',
      'bad-device-id',
      'invalid-row',
      'duplicate-in-import',
    ]);
  });

  it('reads CSV: header in any column order, quoted multi-line PEM, metadata columns, line numbers of each record', () => {
    const csv = [
      'site,enrolmentPublicKey,deviceId',
      `lyon,"${pemOf(good.enrolmentPublicKey)}",${good.deviceId}`,
      '',
      `,${other.enrolmentPublicKey},${other.deviceId}`,
      'only,two',
    ].join('\r\n');
    const rows = suppliedCsvRows(csv);
    expect(rows.map((r) => r.row)).toEqual([2, 8, 9]);
    expect(rows[0]).toMatchObject({ deviceId: good.deviceId, metadata: { site: 'lyon' } });
    expect(rows[1]!.metadata).toBeUndefined();
    expect(checkIdentityRows(rows).map((v) => (v.ok ? 'ok' : v.reason))).toEqual(['ok', 'ok', 'invalid-row']);
  });

  it('refuses a CSV without the required header or with an unterminated quote as MALFORMED', () => {
    const malformed = (text: string) => {
      try {
        suppliedCsvRows(text);
        return 'accepted';
      } catch (error) {
        return error instanceof CommandRejected ? error.reason : String(error);
      }
    };
    expect(malformed('id,key\n1,2')).toBe('MALFORMED');
    expect(malformed('deviceId,enrolmentPublicKey\n"d-x,abc')).toBe('MALFORMED');
    expect(parseCsvRecords('a,"b ""quoted"", c"\n')).toEqual([{ line: 1, fields: ['a', 'b "quoted", c'] }]);
  });

  it('checks the point is on P-256', () => {
    expect(isOnP256Curve(new Uint8Array(Buffer.from(good.enrolmentPublicKey, 'base64').subarray(26)))).toBe(true);
    expect(isOnP256Curve(new Uint8Array(65))).toBe(false);
  });

  it('leaves malformed JSON rows to the report but refuses a malformed command', () => {
    const request = parseImportRequest({
      commandId: 'c-1',
      batchId: 'b',
      importId: 'i',
      source: { format: 'json', rows: [{ deviceId: 5 }] },
    });
    expect(request.source).toEqual({ format: 'json', rows: [{ deviceId: 5 }] });
    expect(() =>
      parseImportRequest({ commandId: 'c-1', batchId: 'b b', importId: 'i', source: { format: 'json', rows: [good] } }),
    ).toThrow('batchId');
    expect(() =>
      parseImportRequest({
        commandId: 'c-1',
        batchId: 'b',
        importId: 'i',
        source: { format: 'json', rows: Array(2501).fill(good) },
      }),
    ).toThrow('at most 2500');
  });
});
