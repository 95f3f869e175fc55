import { Inject, Injectable } from '@nestjs/common';
import { handleCommand, load, type EventStore, type HandleCommandResult } from '@tunnelkey/eventstore';
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
