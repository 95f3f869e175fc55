import { createHash } from 'node:crypto';
import type { Actor, CommandMetadata, DeviceEnvelope } from '@tunnelkey/contracts';
import type { Command } from '@tunnelkey/eventstore';

/** The fields every operator command carries besides its payload. */
export interface OperatorCommandFields {
  commandId: string;
  correlationId?: string;
  actor?: Actor;
}

export function metadataOf(fields: OperatorCommandFields, now: Date): CommandMetadata {
  return {
    commandId: fields.commandId,
    correlationId: fields.correlationId ?? fields.commandId,
    now: now.toISOString(),
    ...(fields.actor ? { actor: fields.actor } : {}),
  };
}

export function commandOf<T extends string, D>(type: T, data: D, metadata: CommandMetadata): Command<T, D> {
  return { type, data, metadata };
}

const maxIdLength = 128;

/**
 * The id under which one operator command acts on one aggregate. Bulk commands touch many
 * aggregates; each append needs its own message id (JetStream dedups by message id across the
 * whole context stream) and a retry must derive the same one.
 */
export function derivedCommandId(commandId: string, part: string): string {
  const readable = `${commandId}:${part}`;
  return readable.length <= maxIdLength ? readable : `h-${createHash('sha256').update(readable).digest('hex')}`;
}

/** Device messages act as commands too: the signed envelope's counter makes the id unique and stable. */
export function uplinkMetadata(envelope: DeviceEnvelope, now: Date): CommandMetadata {
  const commandId = derivedCommandId(`dev-${envelope.deviceId}`, `${envelope.kind}-${envelope.counter}`);
  return { commandId, correlationId: commandId, now: now.toISOString(), actor: { kind: 'device', id: envelope.deviceId } };
}
