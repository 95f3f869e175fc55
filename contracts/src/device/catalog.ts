import { ContractViolation } from '../errors.js';
import type { DeviceEnvelope, DeviceMessageDefinition } from './define-device-message.js';
import * as messages from './messages.js';
import * as integrityMessages from './integrity-messages.js';
import * as renewalMessages from './renewal-messages.js';
import type { DeviceDirection } from './subjects.js';

function isDeviceMessageDefinition(value: unknown): value is DeviceMessageDefinition {
  return typeof value === 'object' && value !== null && 'kind' in value && 'direction' in value && 'schema' in value;
}

/** Every device-protocol message, both directions. */
export const deviceMessageDefinitions: readonly DeviceMessageDefinition[] = (
  [...Object.values(messages), ...Object.values(renewalMessages), ...Object.values(integrityMessages)] as unknown[]
).filter(isDeviceMessageDefinition);

const byKey = new Map<string, DeviceMessageDefinition>();
for (const definition of deviceMessageDefinitions) {
  const key = `${definition.direction}:${definition.kind}`;
  if (byKey.has(key)) throw new Error(`contracts: device message ${key} is defined twice`);
  byKey.set(key, definition);
}

export function findDeviceMessageDefinition(
  direction: DeviceDirection,
  kind: string,
): DeviceMessageDefinition | undefined {
  return byKey.get(`${direction}:${kind}`);
}

/**
 * Validates a device-protocol envelope of the given direction against the contract of its kind.
 * Only the shape: the caller then checks subject, signature, counter and time.
 */
export function validateDeviceMessage(value: unknown, direction: DeviceDirection): DeviceEnvelope {
  const kind = typeof value === 'object' && value !== null ? (value as { kind?: unknown }).kind : undefined;
  const definition = typeof kind === 'string' ? findDeviceMessageDefinition(direction, kind) : undefined;
  if (!definition) throw new ContractViolation(`not a known ${direction} device message`);
  return definition.parse(value);
}
