import { ContractViolation } from './errors.js';
import type { EventDefinition } from './define-event.js';
import type { EventEnvelope } from './envelope.js';
import * as registryEvents from './events/registry.events.js';

/** Every event definition, every version. The single list AsyncAPI and validation read from. */
export const eventDefinitions: readonly EventDefinition[] = [registryEvents].flatMap((module) => Object.values(module) as unknown[]).filter(isEventDefinition);

function isEventDefinition(value: unknown): value is EventDefinition {
  return typeof value === 'object' && value !== null && 'schema' in value && 'context' in value && 'summary' in value;
}

const byKey = new Map(eventDefinitions.map((d) => [`${d.type}@${d.version}`, d] as const));

export function findEventDefinition(type: string, version: number): EventDefinition | undefined {
  return byKey.get(`${type}@${version}`);
}

/** Validates any envelope against the contract of its type and version; throws ContractViolation. */
export function validateEvent(value: unknown): EventEnvelope {
  const candidate = value as Partial<EventEnvelope> | null;
  if (typeof candidate !== 'object' || candidate === null || typeof candidate.type !== 'string' || typeof candidate.version !== 'number') {
    throw new ContractViolation('not an event envelope (type and version required)');
  }
  const definition = findEventDefinition(candidate.type, candidate.version);
  if (!definition) {
    throw new ContractViolation(`unknown event ${candidate.type.slice(0, 64)} v${candidate.version}`);
  }
  return definition.parse(value);
}
