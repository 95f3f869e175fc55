import { ContractViolation } from './errors.js';
import type { EventDefinition } from './define-event.js';
import type { EventEnvelope } from './envelope.js';
import * as caEvents from './events/ca.events.js';
import * as deviceConnectedV1 from './events/device-connected.v1.js';
import * as deviceFirmwareKeysRecordedV1 from './events/device-firmware-keys-recorded.v1.js';
import * as integrityEvents from './events/integrity.events.js';
import * as onboardingEvents from './events/onboarding.events.js';
import * as otaEvents from './events/ota.events.js';
import * as ownershipTransferCompletedV1 from './events/ownership-transfer-completed.v1.js';
import * as registryEvents from './events/registry.events.js';
import * as renewalEvents from './events/renewal.events.js';
import * as revocationEvents from './events/revocation.events.js';
import * as serverPolicyDefinedV1 from './events/server-policy-defined.v1.js';
import * as targetRegisteredV1 from './events/target-registered.v1.js';

// Adding an event file means adding its module here; a unit test checks every events file is listed.
const eventModules: readonly object[] = [
  registryEvents,
  caEvents,
  onboardingEvents,
  deviceConnectedV1,
  serverPolicyDefinedV1,
  targetRegisteredV1,
  ownershipTransferCompletedV1,
  otaEvents,
  deviceFirmwareKeysRecordedV1,
  revocationEvents,
  renewalEvents,
  integrityEvents,
];

/** Every event definition, every version. The single list AsyncAPI and validation read from. */
export const eventDefinitions: readonly EventDefinition[] = eventModules
  .flatMap((module) => Object.values(module) as unknown[])
  .filter(isEventDefinition);

function isEventDefinition(value: unknown): value is EventDefinition {
  return (
    typeof value === 'object' &&
    value !== null &&
    'schema' in value &&
    'context' in value &&
    'summary' in value &&
    'type' in value
  );
}

const byKey = new Map<string, EventDefinition>();
const latestByType = new Map<string, EventDefinition>();
for (const definition of eventDefinitions) {
  const key = `${definition.type}@${definition.version}`;
  if (byKey.has(key)) throw new Error(`contracts: ${key} is defined twice`);
  byKey.set(key, definition);
  const latest = latestByType.get(definition.type);
  if (!latest || latest.version < definition.version) latestByType.set(definition.type, definition);
}

export function findEventDefinition(type: string, version: number): EventDefinition | undefined {
  return byKey.get(`${type}@${version}`);
}

/** The version producers write today. */
export function latestEventDefinition(type: string): EventDefinition | undefined {
  return latestByType.get(type);
}

/** The current version of every event type (what is written today). */
export const latestEventDefinitions: readonly EventDefinition[] = [...latestByType.values()];

/** Every version of every event other teams may subscribe to. */
export const publicEventDefinitions: readonly EventDefinition[] = eventDefinitions.filter((d) => d.public === true);

/** Validates any envelope against the contract of its type and version; throws ContractViolation. */
export function validateEvent(value: unknown): EventEnvelope {
  const candidate = value as Partial<EventEnvelope> | null;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.type !== 'string' ||
    typeof candidate.version !== 'number'
  ) {
    throw new ContractViolation('not an event envelope (type and version required)');
  }
  const definition = findEventDefinition(candidate.type, candidate.version);
  if (!definition) {
    // The type is named only when it looks like one: it is sender-controlled text.
    const type = /^[A-Z][A-Za-z0-9]{0,63}$/.test(candidate.type) ? candidate.type : '~';
    throw new ContractViolation(
      `unknown event ${type} v${Number.isSafeInteger(candidate.version) ? candidate.version : '~'}`,
    );
  }
  return definition.parse(value);
}
