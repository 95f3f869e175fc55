import { findEventDefinition, latestEventDefinition, validateEvent } from './catalog.js';
import type { EventEnvelope } from './envelope.js';
import { ContractViolation, UpcastError } from './errors.js';
import { upcastDeviceConnectedV1 } from './events/device-connected.v1.js';
import { upcastDeviceFirmwareKeysRecordedV1 } from './events/device-firmware-keys-recorded.v1.js';
import { upcastOwnershipTransferCompletedV1 } from './events/ownership-transfer-completed.v1.js';
import { upcastServerPolicyDefinedV1 } from './events/server-policy-defined.v1.js';
import { upcastTargetRegisteredV1 } from './events/target-registered.v1.js';

/** Brings an event of `type` at version `from` to version `from + 1`. Pure: no I/O, no clock. */
export interface Upcaster {
  readonly type: string;
  readonly from: number;
  upcast(event: EventEnvelope): EventEnvelope;
}

/**
 * Every step between stored versions. Upcasters run on read; the log is never rewritten, so an
 * old event stays exactly as it was appended (and its Nats-Msg-Id still deduplicates).
 */
export const upcasters: readonly Upcaster[] = [
  {
    type: 'DeviceConnected',
    from: 1,
    upcast: (e) => upcastDeviceConnectedV1(e as Parameters<typeof upcastDeviceConnectedV1>[0]),
  },
  {
    type: 'ServerPolicyDefined',
    from: 1,
    upcast: (e) => upcastServerPolicyDefinedV1(e as Parameters<typeof upcastServerPolicyDefinedV1>[0]),
  },
  {
    type: 'OwnershipTransferCompleted',
    from: 1,
    upcast: (e) => upcastOwnershipTransferCompletedV1(e as Parameters<typeof upcastOwnershipTransferCompletedV1>[0]),
  },
  {
    type: 'TargetRegistered',
    from: 1,
    upcast: (e) => upcastTargetRegisteredV1(e as Parameters<typeof upcastTargetRegisteredV1>[0]),
  },
  {
    type: 'DeviceFirmwareKeysRecorded',
    from: 1,
    upcast: (e) => upcastDeviceFirmwareKeysRecordedV1(e as Parameters<typeof upcastDeviceFirmwareKeysRecordedV1>[0]),
  },
];

const byKey = new Map(upcasters.map((u) => [`${u.type}@${u.from}`, u] as const));

/**
 * Validates a stored event against the contract of its own version, then upcasts it step by step
 * to the version producers write today and validates the result against that contract.
 * Throws ContractViolation for an invalid or unknown event, UpcastError for a missing step.
 */
export function upcastEvent(value: unknown): EventEnvelope {
  let event = validateEvent(value);
  const latest = latestEventDefinition(event.type);
  if (!latest) throw new UpcastError(`no current version of ${event.type}`);
  while (event.version < latest.version) {
    const step = byKey.get(`${event.type}@${event.version}`);
    if (!step) throw new UpcastError(`no upcaster for ${event.type} v${event.version}`);
    const next = step.upcast(event);
    const definition = findEventDefinition(event.type, event.version + 1);
    if (!definition || next.version !== event.version + 1) {
      throw new UpcastError(`upcaster for ${event.type} v${event.version} did not produce v${event.version + 1}`);
    }
    try {
      event = definition.parse(next);
    } catch (error) {
      if (error instanceof ContractViolation)
        throw new UpcastError(`upcast ${event.type} v${event.version} is invalid`, { cause: error });
      throw error;
    }
  }
  return event;
}
