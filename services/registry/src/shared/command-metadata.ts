import type { CommandMetadata, DeviceEnvelope } from '@tunnelkey/contracts';
import { derivedCommandId, type Command } from '@tunnelkey/eventstore';

export function commandOf<T extends string, D>(type: T, data: D, metadata: CommandMetadata): Command<T, D> {
  return { type, data, metadata };
}

/** Device messages act as commands too: the signed envelope's counter makes the id unique and stable. */
export function uplinkMetadata(envelope: DeviceEnvelope, now: Date): CommandMetadata {
  const commandId = derivedCommandId(`dev-${envelope.deviceId}`, `${envelope.kind}-${envelope.counter}`);
  return {
    commandId,
    correlationId: commandId,
    now: now.toISOString(),
    actor: { kind: 'device', id: envelope.deviceId },
  };
}
