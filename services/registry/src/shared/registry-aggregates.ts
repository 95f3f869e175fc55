import { Inject, Injectable } from '@nestjs/common';
import { handleCommand, isConcurrencyError, load, toEnvelope, type EventStore, type HandleCommandResult } from '@tunnelkey/eventstore';
import { batchDecider, type BatchCommand, type BatchEvent, type BatchState } from '../deciders/batch.decider.js';
import { deviceDecider, type DeviceCommand, type DeviceEvent } from '../deciders/device.decider.js';
import type { DeviceState } from '../deciders/device-state.js';
import { policyDecider, type PolicyCommand, type PolicyEvent, type PolicyState } from '../deciders/policy.decider.js';
import { batchStream, deviceStream, policyStream } from './registry-streams.js';
import { REGISTRY_EVENT_STORE, REGISTRY_RUNTIME, type RegistryRuntime } from './registry-runtime.js';

/**
 * The registry's aggregates behind the event store's command handler: load -> decide -> append
 * with expected version and message id -> retry on concurrency. One method per aggregate so a
 * slice never spells a stream or picks a decider by hand.
 */
@Injectable()
export class RegistryAggregates {
  constructor(
    @Inject(REGISTRY_EVENT_STORE) private readonly store: EventStore,
    @Inject(REGISTRY_RUNTIME) private readonly runtime: RegistryRuntime,
  ) {}

  policy(command: PolicyCommand): Promise<HandleCommandResult<PolicyEvent, PolicyState>> {
    return handleCommand({ store: this.store, decider: policyDecider, stream: policyStream(command.data.policyId), command, logger: this.runtime.logger });
  }

  batch(command: BatchCommand): Promise<HandleCommandResult<BatchEvent, BatchState>> {
    return handleCommand({ store: this.store, decider: batchDecider, stream: batchStream(command.data.batchId), command, logger: this.runtime.logger });
  }

  device(command: DeviceCommand): Promise<HandleCommandResult<DeviceEvent, DeviceState>> {
    return handleCommand({ store: this.store, decider: deviceDecider, stream: deviceStream(command.data.deviceId), command, logger: this.runtime.logger });
  }

  /**
   * The same decision on a state the caller already holds (the read model's device state and the
   * stream version it was folded to), skipping the read: bulk commands touch thousands of devices.
   * Only a decision that writes is taken this way; the append's expected version rejects a stale
   * state, and then (as for refusals and no-ops, which a stale state could get wrong) the device
   * goes through the full load -> decide -> append.
   */
  async deviceFromKnownState(known: { state: DeviceState; version: number }, command: DeviceCommand): Promise<HandleCommandResult<DeviceEvent, DeviceState>> {
    let decided;
    try {
      decided = deviceDecider.decide(command, known.state);
    } catch {
      return this.device(command);
    }
    if (decided.length === 0) return this.device(command);
    const stream = deviceStream(command.data.deviceId);
    const events = decided.map((event, index) => toEnvelope(event, stream, command, index)) as DeviceEvent[];
    try {
      const result = await this.store.append(stream, events, { expectedVersion: known.version, messageId: command.metadata.commandId });
      if (result.duplicate) return this.device(command); // a retry: answer from the log
      return { events, version: result.version, state: events.reduce(deviceDecider.evolve, known.state), alreadyHandled: false };
    } catch (error) {
      if (isConcurrencyError(error)) return this.device(command);
      throw error;
    }
  }

  async policyState(policyId: string): Promise<PolicyState> {
    return (await load(this.store, policyDecider, policyStream(policyId))).state;
  }

  async batchState(batchId: string): Promise<BatchState> {
    return (await load(this.store, batchDecider, batchStream(batchId))).state;
  }

  async deviceState(deviceId: string): Promise<DeviceState> {
    return (await load(this.store, deviceDecider, deviceStream(deviceId))).state;
  }
}
