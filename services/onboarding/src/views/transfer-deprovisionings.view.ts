/**
 * Query: which transferred devices are still onboarded to a target for their old owner? A device
 * owes a transfer deprovisioning while its last OwnershipTransferCompleted (registry) moved it to a
 * batch and it is still active (onboarded, not deprovisioned since) on a target through an
 * onboarding of another batch (onboarding's DeviceOnboarded carries the batch). Folded from both
 * logs in a LiveView (checkpointed), whatever order the two streams arrive in: the answer depends
 * on the state reached, not on the path. The transfer-deprovisionings job cuts what this lists
 * until it lists nothing; the DeviceDeprovisioned events it records take the device off, and so
 * does the new owner onboarding the device on that target (its onboarding replaces the old one).
 *
 * Why a view and not a durable reaction to OwnershipTransferCompleted: that event shares the
 * device's subject with every provisioning event (NATS 2.9 filters by subject only), so a durable
 * received, decoded and acknowledged four events per provisioned device to find a transfer, one
 * round trip to the bus each. The sources here are the whole `registry` stream (the batch-plan
 * view's) and the whole `onboarding` stream (the targets view's): the store shares one consumer
 * and one decode per filter, so this costs a map update.
 */
import {
  DeviceDeprovisioned,
  DeviceOnboarded,
  OwnershipTransferCompleted,
  type DataOf,
  type EventEnvelope,
} from '@tunnelkey/contracts';
import type { EventStore } from '@tunnelkey/eventstore';
import { TransferWorkView, updateOwed, type OwedListener, type TransferWorkState } from '@tunnelkey/messaging';
import type { Logger } from 'pino';

/** A device's last transfer: what its deprovisioning names. */
export interface DeviceTransfer {
  deviceId: string;
  /** The deprovisioning's command id derives from it. */
  transferId: string;
  /** The new owner's batch: onboardings of it are the new owner's, left alone. */
  batchId: string;
}

/** `owed`: the devices active on a target through an onboarding of a batch other than their last transfer's. */
export interface TransferDeprovisioningsState extends TransferWorkState<DeviceTransfer> {
  /** Per device, targetId -> the batch of its onboarding there, while active (not deprovisioned since). */
  active: Map<string, Map<string, string>>;
}

export const initialTransferDeprovisioningsState = (): TransferDeprovisioningsState => ({
  transfers: new Map(),
  active: new Map(),
  owed: new Set(),
});

/** The targets the device's last transfer must still cut it off (its old owner's onboardings). */
export function owedTargets(state: TransferDeprovisioningsState, deviceId: string): string[] {
  const transfer = state.transfers.get(deviceId);
  if (!transfer) return [];
  return [...(state.active.get(deviceId) ?? [])]
    .filter(([, batchId]) => batchId !== transfer.batchId)
    .map(([targetId]) => targetId);
}

/**
 * Folds one registry or onboarding event (in place); `becameOwed` hears of a device that owes a
 * deprovisioning now and did not before. The store has validated each event against its contract.
 */
export function foldTransferDeprovisionings(
  state: TransferDeprovisioningsState,
  event: EventEnvelope,
  becameOwed: OwedListener<DeviceTransfer> = () => undefined,
): void {
  let deviceId: string;
  switch (event.type) {
    case OwnershipTransferCompleted.type: {
      const d = event.data as DataOf<typeof OwnershipTransferCompleted>;
      // Every transfer since v2 names the new owner's batch; one recorded without (v1) predates this view.
      if (d.batchId === undefined) return;
      deviceId = d.deviceId;
      state.transfers.set(deviceId, { deviceId, transferId: d.transferId, batchId: d.batchId });
      break;
    }
    case DeviceOnboarded.type: {
      const d = event.data as DataOf<typeof DeviceOnboarded>;
      deviceId = d.deviceId;
      let targets = state.active.get(deviceId);
      if (!targets) state.active.set(deviceId, (targets = new Map()));
      targets.set(d.targetId, d.batchId);
      break;
    }
    case DeviceDeprovisioned.type: {
      const d = event.data as DataOf<typeof DeviceDeprovisioned>;
      deviceId = d.deviceId;
      const targets = state.active.get(deviceId);
      targets?.delete(d.targetId);
      if (targets?.size === 0) state.active.delete(deviceId);
      break;
    }
    default:
      return;
  }
  updateOwed(state, deviceId, owedTargets(state, deviceId).length > 0, becameOwed);
}

export class TransferDeprovisioningsView extends TransferWorkView<TransferDeprovisioningsState, DeviceTransfer> {
  static readonly viewName = 'onboarding-transfer-deprovisionings';

  static start(store: EventStore, logger?: Logger): Promise<TransferDeprovisioningsView> {
    return TransferWorkView.startLive(
      store,
      {
        name: TransferDeprovisioningsView.viewName,
        // The batch-plan view's filter (registry) and the targets view's (onboarding): shared consumers.
        sources: [{ context: 'registry' }, { context: 'onboarding' }],
        // Checkpointed: a restart loads the newest checkpoint and replays only what follows. Bump the version
        // when the state or evolve changes.
        checkpoint: { owner: 'onboarding', version: 1 },
        initialState: initialTransferDeprovisioningsState,
        fold: foldTransferDeprovisionings,
      },
      logger,
      (live, listeners) => new TransferDeprovisioningsView(live, listeners),
    );
  }
}
