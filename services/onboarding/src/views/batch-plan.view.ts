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
