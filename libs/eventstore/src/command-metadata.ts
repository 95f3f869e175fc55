import { createHash } from 'node:crypto';
import type { Actor, CommandMetadata } from '@tunnelkey/contracts';

/** The fields every operator command carries besides its payload. */
export interface OperatorCommandFields {
  commandId: string;
  correlationId?: string;
  actor?: Actor;
}

/** A command's metadata: its id, its correlation (itself when it starts one), the time it is decided at, its actor. */
export function metadataOf(fields: OperatorCommandFields, now: Date): CommandMetadata {
  return {
    commandId: fields.commandId,
    correlationId: fields.correlationId ?? fields.commandId,
    now: now.toISOString(),
    ...(fields.actor ? { actor: fields.actor } : {}),
  };
}

const maxIdLength = 128;
const plainPart = /^[A-Za-z0-9-]+$/;

/**
 * The id of one step a command takes on one aggregate (a bulk command appends per device; a
 * reaction records per target; a large import is sent in parts): a retry derives the same id,
 * hence the same events and message ids. A valid command id itself (`[A-Za-z0-9_-]`, at most 128):
 * `<commandId>_<part>_...` while every piece is plain (no `_`, so two different derivations never
 * read the same) and it fits, else `h-` and the SHA-256 of the pieces.
 */
export function derivedCommandId(commandId: string, ...parts: string[]): string {
  const pieces = [commandId, ...parts];
  const readable = pieces.join('_');
  if (readable.length <= maxIdLength && pieces.every((piece) => plainPart.test(piece))) return readable;
  return `h-${createHash('sha256').update(pieces.join('\u0000')).digest('hex')}`;
}

/** The metadata of a step derived from a command: same time, actor and correlation, its own derived id. */
export function derivedMetadata(metadata: CommandMetadata, ...parts: string[]): CommandMetadata {
  return {
    ...metadata,
    commandId: derivedCommandId(metadata.commandId, ...parts),
    correlationId: metadata.correlationId ?? metadata.commandId,
  };
}
