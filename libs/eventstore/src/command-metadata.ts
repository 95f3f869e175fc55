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

/**
 * The id of one step a command takes on one aggregate (a bulk command appends per device; a
 * reaction records per target): a retry derives the same id, hence the same events and message
 * ids. Readable (`<commandId>:<part>:...`) while short, a SHA-256 past 128 characters.
 */
export function derivedCommandId(commandId: string, ...parts: string[]): string {
  const readable = [commandId, ...parts].join(':');
  return readable.length <= maxIdLength ? readable : `h-${createHash('sha256').update(readable).digest('hex')}`;
}

/** The metadata of a step derived from a command: same time, actor and correlation, its own derived id. */
export function derivedMetadata(metadata: CommandMetadata, ...parts: string[]): CommandMetadata {
  return { ...metadata, commandId: derivedCommandId(metadata.commandId, ...parts), correlationId: metadata.correlationId ?? metadata.commandId };
}
