import { CommandFailed } from '@tunnelkey/messaging';
import { BadRequest } from '../../errors.js';
import type { CommandContext, CommandOutcome, CommandSender } from '../command-sender.js';
import { commandRoutes } from '../command-routes.js';
import { partCommandId, partImportId, splitCsv, splitJsonRows, type ImportPart } from './split-import.js';

export interface ImportRowReport {
  row: number;
  deviceId?: string;
  status: 'accepted' | 'rejected';
  reason?: string;
}

export interface ImportReport {
  batchId: string;
  importId: string;
  accepted: number;
  rejected: number;
  /** ImportIdentities calls the file took (at most 2,500 rows each). */
  calls: number;
  rows: ImportRowReport[];
}

interface ReplyReport {
  accepted: number;
  rejected: number;
  rows: ImportRowReport[];
}

/**
 * An identity file of any size: JSON (an array of rows, or `{ rows, importId? }`) or CSV text,
 * split into ImportIdentities calls of at most 2,500 rows, sent in order, and answered with one
 * report whose row numbers are the file's.
 */
export async function importIdentities(
  sender: CommandSender,
  batchId: string,
  body: unknown,
  contentType: string | undefined,
  query: { importId?: unknown },
  context: CommandContext,
): Promise<CommandOutcome<ImportReport>> {
  const route = commandRoutes.ImportIdentities;
  const { parts, importId: bodyImportId } = partsOf(body, contentType);
  const commandId = sender.commandIdOf(context);
  // Without one given, the import is named after the command: a retry under the same
  // Idempotency-Key is the same request (and the same import) again.
  const importId = typeof query.importId === 'string' ? query.importId : (bodyImportId ?? commandId);
  const report: ImportReport = { batchId, importId, accepted: 0, rejected: 0, calls: parts.length, rows: [] };
  // Every part is checked against the contract and the key bound before the first is sent.
  const payloads = parts.map((part, index) =>
    sender.payloadOf(
      route.command,
      { importId: partImportId(importId, index, parts.length), source: part.source },
      { batchId },
      partCommandId(commandId, index, parts.length),
      context,
    ),
  );
  await sender.bindKey(route.command, commandId, payloads, context);
  for (const [index, part] of parts.entries()) {
    const payload = payloads[index]!;
    let reply: ReplyReport;
    try {
      reply = await sender.send<ReplyReport>(route, payload, context);
    } catch (error) {
      if (index === 0 || !(error instanceof CommandFailed)) throw error;
      throw new CommandFailed(
        error.code,
        `${error.message} (after ${index} of ${parts.length} parts were imported; retrying with the same Idempotency-Key repeats nothing)`,
        error.details,
        { cause: error },
      );
    }
    report.accepted += reply.accepted;
    report.rejected += reply.rejected;
    for (const row of reply.rows) report.rows.push({ ...row, row: part.originalRow(row.row) });
  }
  return { commandId, correlationId: context.correlationId, result: report };
}

function partsOf(body: unknown, contentType: string | undefined): { parts: ImportPart[]; importId?: string } {
  if (typeof body === 'string') {
    if (!/^text\/(csv|plain)/i.test(contentType ?? ''))
      throw new BadRequest('send JSON (application/json) or CSV (text/csv)');
    return { parts: splitCsv(body) };
  }
  if (Array.isArray(body)) return { parts: splitJsonRows(body) };
  if (typeof body === 'object' && body !== null) {
    const { rows, csv, importId } = body as { rows?: unknown; csv?: unknown; importId?: unknown };
    if (importId !== undefined && (typeof importId !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(importId)))
      throw new BadRequest('importId must match ^[A-Za-z0-9_-]{1,128}$', [{ path: '/importId' }]);
    const id = importId as string | undefined;
    if (Array.isArray(rows)) return { parts: splitJsonRows(rows), ...(id ? { importId: id } : {}) };
    if (typeof csv === 'string') return { parts: splitCsv(csv), ...(id ? { importId: id } : {}) };
  }
  throw new BadRequest('the body must be an array of identity rows, { "rows": [...] }, { "csv": "..." } or text/csv', [
    { path: '/' },
  ]);
}
