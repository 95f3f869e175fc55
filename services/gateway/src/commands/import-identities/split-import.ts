import { derivedCommandId } from '@tunnelkey/eventstore';
import { maxImportCsvBytes, maxImportRows } from '@tunnelkey/contracts';
import { BadRequest } from '../../errors.js';

/** One ImportIdentities call's source, and how its row numbers map back to the operator's file. */
export interface ImportPart {
  source: { format: 'json'; rows: unknown[] } | { format: 'csv'; text: string };
  /** Row number in the part's report -> row number in the whole file. */
  originalRow(row: number): number;
}

/** Rows a single HTTP import may carry; the body limit bounds it too. */
export const maxRowsPerRequest = 200_000;

/** JSON rows in parts of at most `maxImportRows`: part i's row r is the file's row r + i * size. */
export function splitJsonRows(rows: unknown[], size = maxImportRows): ImportPart[] {
  if (rows.length === 0) throw new BadRequest('the identity file has no rows', [{ path: '/rows' }]);
  if (rows.length > maxRowsPerRequest)
    throw new BadRequest(`an import takes at most ${maxRowsPerRequest} rows; split the file`, [{ path: '/rows' }]);
  const parts: ImportPart[] = [];
  for (let start = 0; start < rows.length; start += size) {
    parts.push({
      source: { format: 'json', rows: rows.slice(start, start + size) },
      originalRow: (row) => row + start,
    });
  }
  return parts;
}

interface CsvRecord {
  /** The record's text without its line end. */
  text: string;
  /** Line it starts on in the file (1-based). */
  line: number;
  /** Lines it spans (a quoted PEM key spans several). */
  lines: number;
}

/** Splits CSV text into records at line ends outside quotes, keeping each record's first line. */
export function csvRecords(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let quoted = false;
  let start = 0;
  let line = 1;
  let recordLine = 1;
  for (let i = 0; i <= text.length; i++) {
    const char = text[i];
    if (char === '"') quoted = !quoted;
    if ((char === '\n' && !quoted) || i === text.length) {
      const raw = text.slice(start, i).replace(/\r$/, '');
      if (raw.trim() !== '') records.push({ text: raw, line: recordLine, lines: line - recordLine + 1 });
      start = i + 1;
      line++;
      recordLine = line;
    } else if (char === '\n') {
      line++;
    }
  }
  if (quoted)
    throw new BadRequest('the CSV has an unterminated quoted field', [
      { path: 'csv', message: `from line ${recordLine}` },
    ]);
  return records;
}

/**
 * CSV in parts of at most `maxImportRows` records and `maxImportCsvBytes`, each with the header
 * line first. Rows in the registry's report are the part's line numbers, mapped back to the file's.
 */
export function splitCsv(text: string, size = maxImportRows, maxBytes = maxImportCsvBytes): ImportPart[] {
  const [header, ...records] = csvRecords(text);
  if (!header) throw new BadRequest('the CSV is empty', [{ path: 'csv' }]);
  if (records.length === 0) throw new BadRequest('the CSV has a header but no rows', [{ path: 'csv' }]);
  if (records.length > maxRowsPerRequest)
    throw new BadRequest(`an import takes at most ${maxRowsPerRequest} rows; split the file`, [{ path: 'csv' }]);
  const parts: ImportPart[] = [];
  let current: CsvRecord[] = [];
  let bytes = 0;
  const flush = () => {
    if (current.length === 0) return;
    const lineMap = new Map<number, number>();
    let partLine = 1 + header.lines;
    for (const record of current) {
      lineMap.set(partLine, record.line);
      partLine += record.lines;
    }
    parts.push({
      source: { format: 'csv', text: `${[header, ...current].map((r) => r.text).join('\n')}\n` },
      originalRow: (row) => lineMap.get(row) ?? row,
    });
    current = [];
    bytes = 0;
  };
  const headerBytes = Buffer.byteLength(header.text) + 1;
  for (const record of records) {
    const recordBytes = Buffer.byteLength(record.text) + 1;
    if (headerBytes + recordBytes > maxBytes)
      throw new BadRequest(`CSV line ${record.line} is too long`, [{ path: 'csv', message: `line ${record.line}` }]);
    if (current.length >= size || headerBytes + bytes + recordBytes > maxBytes) flush();
    current.push(record);
    bytes += recordBytes;
  }
  flush();
  return parts;
}

/** Part i's command id: derived from the client's, so a retried import repeats every part's id. */
export function partCommandId(commandId: string, index: number, parts: number): string {
  return parts === 1 ? commandId : derivedCommandId(commandId, 'part', String(index));
}

/** Part i's import id: the operator's, suffixed when the file needed several calls. */
export function partImportId(importId: string, index: number, parts: number): string {
  return parts === 1 ? importId : `${importId.slice(0, 120)}-p${index + 1}`;
}
