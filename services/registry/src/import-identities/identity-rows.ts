import { createHash } from 'node:crypto';
import type { Static } from '@sinclair/typebox';
import {
  compileContract,
  IdentityRow,
  isAggregateId,
  Metadata,
  type importRejectionReasons,
} from '@tunnelkey/contracts';
import { isPkiError, parseEcSpki, pemToDer, UnsupportedAlgorithmError } from '@tunnelkey/pki';
import { deviceIdMatchesPublicKey, isDeviceId, p256SpkiFromPoint } from '@tunnelkey/puf';
import { refused } from '../shared/registry-errors.js';
import { CsvSyntaxError, parseCsvRecords } from './csv-records.js';
import { isOnP256Curve } from './p256-point.js';

export type ImportRejectionReason = (typeof importRejectionReasons)[number];

/** A row as the operator supplied it, before any check. */
export interface SuppliedRow {
  /** JSON: array index + 1; CSV: the line the record starts on (the header is line 1). */
  row: number;
  deviceId?: unknown;
  enrolmentPublicKey?: unknown;
  metadata?: Record<string, string>;
  /** Set when the row's shape is wrong (CSV column count, JSON row not matching the contract). */
  invalid?: boolean;
}

/** A row whose key and id passed every check that needs no state. */
export interface CheckedIdentity {
  row: number;
  deviceId: string;
  /** Canonical SPKI DER, base64 (whatever form the row used). */
  enrolmentPublicKey: string;
  enrolmentKeyDigest: string;
  metadata?: Record<string, string>;
}

export type RowVerdict =
  | { ok: true; identity: CheckedIdentity }
  | { ok: false; row: number; deviceId?: string; reason: ImportRejectionReason };

const identityRowContract = compileContract<Static<typeof IdentityRow>>(IdentityRow, 'identity row');
const metadataContract = compileContract<Static<typeof Metadata>>(Metadata, 'identity metadata');

/** JSON rows: each one checked against the row contract on its own, so one bad row does not sink the call. */
export function suppliedJsonRows(rows: readonly unknown[]): SuppliedRow[] {
  return rows.map((value, index) => {
    const row = index + 1;
    if (!identityRowContract.is(value)) {
      const candidate = (typeof value === 'object' && value !== null ? value : {}) as { deviceId?: unknown };
      return { row, deviceId: candidate.deviceId, invalid: true };
    }
    return {
      row,
      deviceId: value.deviceId,
      enrolmentPublicKey: value.enrolmentPublicKey,
      ...(value.metadata ? { metadata: value.metadata } : {}),
    };
  });
}

const metadataKey = /^[A-Za-z0-9_.-]{1,64}$/;

/** CSV: a header with `deviceId` and `enrolmentPublicKey` (any order), other columns become metadata. */
export function suppliedCsvRows(text: string): SuppliedRow[] {
  let records;
  try {
    records = parseCsvRecords(text);
  } catch (error) {
    if (error instanceof CsvSyntaxError)
      throw refused('MALFORMED', `the CSV cannot be read: ${error.message}`, { line: error.line });
    throw error;
  }
  const [header, ...body] = records;
  const columns = header?.fields.map((name) => name.trim()) ?? [];
  const idColumn = columns.findIndex((name) => name.toLowerCase() === 'deviceid');
  const keyColumn = columns.findIndex((name) => name.toLowerCase() === 'enrolmentpublickey');
  if (idColumn < 0 || keyColumn < 0)
    throw refused('MALFORMED', 'the CSV header must name the columns deviceId and enrolmentPublicKey', {});
  const metadataColumns = columns
    .map((name, index) => ({ name, index }))
    .filter(({ index }) => index !== idColumn && index !== keyColumn);
  const badColumn = metadataColumns.find(({ name }) => !metadataKey.test(name));
  if (badColumn)
    throw refused('MALFORMED', `CSV column ${badColumn.index + 1} is not a metadata name (${metadataKey.source})`, {});
  return body.map(({ line, fields }) => {
    if (fields.length !== columns.length) return { row: line, deviceId: fields[idColumn]?.trim(), invalid: true };
    const metadata: Record<string, string> = {};
    for (const { name, index } of metadataColumns) if (fields[index] !== '') metadata[name] = fields[index]!;
    const hasMetadata = metadataColumns.length > 0 && Object.keys(metadata).length > 0;
    if (hasMetadata && !metadataContract.is(metadata))
      return { row: line, deviceId: fields[idColumn]?.trim(), invalid: true };
    return {
      row: line,
      deviceId: fields[idColumn]!.trim(),
      enrolmentPublicKey: fields[keyColumn]!.trim(),
      ...(hasMetadata ? { metadata } : {}),
    };
  });
}

const base64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** PEM or base64 DER -> DER; undefined when it is neither. */
function keyDer(text: string): Uint8Array | undefined {
  try {
    if (text.includes('-----BEGIN')) return pemToDer(text, 'PUBLIC KEY');
  } catch {
    return undefined;
  }
  const compact = text.replace(/\s+/g, '');
  if (compact.length === 0 || !base64.test(compact)) return undefined;
  return new Uint8Array(Buffer.from(compact, 'base64'));
}

/** Every check of one row that needs no state: shape, id syntax, key encoding, curve, point, id = digest(key). */
export function checkIdentityRow(supplied: SuppliedRow): RowVerdict {
  const { row } = supplied;
  const deviceId = isAggregateId(supplied.deviceId) ? supplied.deviceId : undefined;
  const reject = (reason: ImportRejectionReason): RowVerdict => ({
    ok: false,
    row,
    ...(deviceId ? { deviceId } : {}),
    reason,
  });
  if (supplied.invalid || typeof supplied.enrolmentPublicKey !== 'string') return reject('invalid-row');
  if (!deviceId || !isDeviceId(deviceId)) return reject('bad-device-id');
  const der = keyDer(supplied.enrolmentPublicKey);
  if (!der) return reject('malformed-key');
  let point: Uint8Array;
  try {
    const info = parseEcSpki(der);
    if (info.namedCurve !== 'P-256') return reject('not-p256');
    point = info.publicKey;
  } catch (error) {
    if (error instanceof UnsupportedAlgorithmError) return reject('not-p256');
    if (isPkiError(error)) return reject('malformed-key');
    throw error;
  }
  // A point off the curve would pass the DER checks and fail only when the key is first used.
  if (!isOnP256Curve(point)) return reject('malformed-key');
  const spki = p256SpkiFromPoint(point);
  if (!deviceIdMatchesPublicKey(deviceId, spki)) return reject('id-mismatch');
  return {
    ok: true,
    identity: {
      row,
      deviceId,
      enrolmentPublicKey: Buffer.from(spki).toString('base64'),
      enrolmentKeyDigest: createHash('sha256').update(spki).digest('hex'),
      ...(supplied.metadata ? { metadata: supplied.metadata } : {}),
    },
  };
}

/** Checks every row; a device id seen in an earlier good row makes later ones duplicates. */
export function checkIdentityRows(rows: readonly SuppliedRow[]): RowVerdict[] {
  const seen = new Set<string>();
  return rows.map((row) => {
    const verdict = checkIdentityRow(row);
    if (!verdict.ok) return verdict;
    if (seen.has(verdict.identity.deviceId))
      return { ok: false, row: row.row, deviceId: verdict.identity.deviceId, reason: 'duplicate-in-import' };
    seen.add(verdict.identity.deviceId);
    return verdict;
  });
}
