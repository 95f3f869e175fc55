/**
 * Which devices a batch holds and under which server policy (targets, topic rights), from the
 * registry's events: what OnboardBatch and OnboardDevice plan with.
 */
import { InMemoryView } from '@tunnelkey/messaging';
import {
  BatchCreated,
  DeviceIdentityImported,
  DeviceRevoked,
  OwnershipTransferCompleted,
  ServerPolicyDefined,
  type DataOf,
  type EventEnvelope,
} from '@tunnelkey/contracts';
import { LiveView, type EventStore } from '@tunnelkey/eventstore';
import type { Logger } from 'pino';
import type { TopicRightSpec } from '../target-port/topic-plan.js';

type D<E> = DataOf<E>;

export interface PolicyPlan {
  policyId: string;
  targetIds: string[];
  topicRights: TopicRightSpec[];
}

export class BatchPlanState {
  readonly policies = new Map<string, PolicyPlan>();
  readonly batches = new Map<string, D<typeof BatchCreated>>();
  readonly devicesByBatch = new Map<string, Set<string>>();
  readonly batchOfDevice = new Map<string, string>();
  /** Devices the registry revoked (DeviceRevoked). */
  readonly revoked = new Set<string>();

  /** What a view checkpoint stores of this state (Maps and Sets, all of it). */
  toCheckpoint(): {
    policies: BatchPlanState['policies'];
    batches: BatchPlanState['batches'];
    devicesByBatch: BatchPlanState['devicesByBatch'];
    batchOfDevice: BatchPlanState['batchOfDevice'];
    revoked: BatchPlanState['revoked'];
  } {
    return {
      policies: this.policies,
      batches: this.batches,
      devicesByBatch: this.devicesByBatch,
      batchOfDevice: this.batchOfDevice,
      revoked: this.revoked,
    };
  }

  /** The state again from what `toCheckpoint` stored. */
  static fromCheckpoint(stored: unknown): BatchPlanState {
    const data = stored as {
      policies: BatchPlanState['policies'];
      batches: BatchPlanState['batches'];
      devicesByBatch: BatchPlanState['devicesByBatch'];
      batchOfDevice: BatchPlanState['batchOfDevice'];
      revoked: BatchPlanState['revoked'];
    };
    const state = new BatchPlanState();
    for (const [k, v] of data.policies) state.policies.set(k, v);
    for (const [k, v] of data.batches) state.batches.set(k, v);
    for (const [k, v] of data.devicesByBatch) state.devicesByBatch.set(k, v);
    for (const [k, v] of data.batchOfDevice) state.batchOfDevice.set(k, v);
    for (const v of data.revoked) state.revoked.add(v);
    return state;
  }

  apply(event: EventEnvelope): void {
    switch (event.type) {
      case ServerPolicyDefined.type: {
        const data = event.data as D<typeof ServerPolicyDefined>;
        const topicRights = data.topicRights.map((r) => ({ ...r }));
        this.policies.set(data.policyId, { policyId: data.policyId, targetIds: [...data.targetIds], topicRights });
        break;
      }
      case BatchCreated.type: {
        const data = event.data as D<typeof BatchCreated>;
        this.batches.set(data.batchId, data);
        break;
      }
      case DeviceIdentityImported.type: {
        const data = event.data as D<typeof DeviceIdentityImported>;
        this.#moveToBatch(data.deviceId, data.batchId);
        break;
      }
      case OwnershipTransferCompleted.type: {
        const data = event.data as D<typeof OwnershipTransferCompleted>;
        if (data.batchId) this.#moveToBatch(data.deviceId, data.batchId);
        break;
      }
      case DeviceRevoked.type:
        this.revoked.add((event.data as D<typeof DeviceRevoked>).deviceId);
        break;
      default:
        break;
    }
  }

  #moveToBatch(deviceId: string, batchId: string): void {
    const previous = this.batchOfDevice.get(deviceId);
    if (previous) this.devicesByBatch.get(previous)?.delete(deviceId);
    this.batchOfDevice.set(deviceId, batchId);
    let members = this.devicesByBatch.get(batchId);
    if (!members) this.devicesByBatch.set(batchId, (members = new Set()));
    members.add(deviceId);
  }
}

export class BatchPlanView extends InMemoryView<BatchPlanState> {
  static readonly viewName = 'onboarding-batch-plan';

  static async start(store: EventStore, logger?: Logger): Promise<BatchPlanView> {
    const live = await LiveView.start(
      store,
      {
        name: BatchPlanView.viewName,
        sources: [{ context: 'registry' }],
        initialState: () => new BatchPlanState(),
        evolve: (state, recorded) => (state.apply(recorded.event), state),
        // Checkpointed: a restart loads the newest checkpoint and replays only what follows. Bump the
        // version when the state or apply changes.
        checkpoint: {
          owner: 'onboarding',
          version: 1,
          toCheckpoint: (state) => state.toCheckpoint(),
          fromCheckpoint: (stored) => BatchPlanState.fromCheckpoint(stored),
        },
      },
      logger ? { logger } : {},
    );
    return new BatchPlanView(live);
  }

  batch(batchId: string): D<typeof BatchCreated> | undefined {
    return this.state.batches.get(batchId);
  }

  members(batchId: string): string[] {
    return [...(this.state.devicesByBatch.get(batchId) ?? [])];
  }

  batchOf(deviceId: string): string | undefined {
    return this.state.batchOfDevice.get(deviceId);
  }

  policy(policyId: string): PolicyPlan | undefined {
    return this.state.policies.get(policyId);
  }

  /** Policies whose devices go to `targetId` (their telemetry topics are watched there). */
  policiesNaming(targetId: string): PolicyPlan[] {
    return [...this.state.policies.values()].filter((policy) => policy.targetIds.includes(targetId));
  }

  revokedByRegistry(deviceId: string): boolean {
    return this.state.revoked.has(deviceId);
  }
}
